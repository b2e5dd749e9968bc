import Support
import Foundation
import OpenAIClient
import Tokenizers
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

public enum ManagedServerError: Error, CustomStringConvertible {
    case exited(command: String, status: Int32, log: String, tail: String)
    case notReady(command: String, seconds: Double, log: String, tail: String)
    case launch(command: String, reason: String)

    public var description: String {
        switch self {
        case .exited(let c, let s, let log, let tail):
            return "the server exited with status \(s) before answering (command: \(c)); its output is in \(log)\(tail.isEmpty ? "" : ", ending: \(tail)")"
        case .notReady(let c, let s, let log, let tail):
            return "the server did not answer within \(Int(s)) s (command: \(c)); its output is in \(log)\(tail.isEmpty ? "" : ", ending: \(tail)")"
        case .launch(let c, let r): return "cannot start the server (command: \(c)): \(r)"
        }
    }
}

/// An OpenAI-compatible server that saro starts from a command template (vLLM, SGLang,
/// llama.cpp's server, `saro serve`), waits for, and stops: one per stage that needs it.
///
/// The template's `{port}` is a free loopback port; the other `{name}` placeholders are the
/// caller's, each shell-quoted. The command runs under `/bin/sh -c "exec ..."`, so stopping
/// signals the server itself; its output goes to `logPath`. A watchdog beside it stops the
/// server when this process dies without stopping it (killed), so no server outlives its run.
public final class ManagedServer: @unchecked Sendable {
    public let baseURL: String
    public let command: String
    public let logPath: String
    /// The server's process id (the shell `exec`s into the server). Spawned and reaped here
    /// with posix_spawn and waitpid, not Foundation's Process, whose exit monitoring can miss
    /// a child's exit and leave `waitUntilExit` blocked on a zombie.
    private let pid: pid_t
    private let lock = NSLock()
    private var exitStatus: Int32?

    private init(baseURL: String, command: String, logPath: String, pid: pid_t) {
        self.baseURL = baseURL; self.command = command; self.logPath = logPath; self.pid = pid
    }

    /// The template with every `{key}` replaced by its shell-quoted value.
    public static func fill(_ template: String, _ values: [String: String]) -> String {
        var out = template
        for (k, v) in values { out = out.replacingOccurrences(of: "{\(k)}", with: "'" + v.replacingOccurrences(of: "'", with: "'\\''") + "'") }
        return out
    }

    /// Starts the server and returns once `GET /v1/models` answers 200.
    public static func start(template: String, values: [String: String], logPath: String, startupTimeout: Double) async throws -> ManagedServer {
        let port = try freePort()
        let command = fill(template, values.merging(["port": "\(port)"]) { a, _ in a })
        try FileManager.default.createDirectory(atPath: (logPath as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: logPath, contents: nil)
        // `$$` is the shell's pid, which `exec` hands to the server.
        let me = getpid()
        let watchdog = "( while kill -0 \(me) 2>/dev/null && kill -0 $$ 2>/dev/null; do sleep 1; done; kill -0 \(me) 2>/dev/null || kill -TERM $$ 2>/dev/null ) &"
        let pid = try spawn(["/bin/sh", "-c", watchdog + " exec " + command], logPath: logPath, command: command)
        let server = ManagedServer(baseURL: "http://127.0.0.1:\(port)/v1", command: command, logPath: logPath, pid: pid)
        let deadline = Date().addingTimeInterval(startupTimeout)
        while true {
            if let status = server.exited() { throw ManagedServerError.exited(command: command, status: status, log: logPath, tail: server.logTail()) }
            if await server.answers() { return server }
            if Date() > deadline {
                server.stop()
                throw ManagedServerError.notReady(command: command, seconds: startupTimeout, log: logPath, tail: server.logTail())
            }
            try await Task.sleep(nanoseconds: 250_000_000)
        }
    }

    /// Whether `GET /v1/models` answers 200 now.
    func answers() async -> Bool {
        guard let url = URL(string: baseURL + "/models") else { return false }
        var request = URLRequest(url: url)
        request.timeoutInterval = 2
        guard let (_, response) = try? await URLSession.shared.data(for: request) else { return false }
        return (response as? HTTPURLResponse)?.statusCode == 200
    }

    public var isRunning: Bool { exited() == nil }

    /// The exit status once the process has ended (reaping it), else nil.
    func exited() -> Int32? {
        lock.lock(); defer { lock.unlock() }
        if let exitStatus { return exitStatus }
        var status: Int32 = 0
        let r = waitpid(pid, &status, WNOHANG)
        guard r == pid || (r < 0 && errno == ECHILD) else { return nil }
        // WEXITSTATUS, or 128 + the signal that ended it, as a shell reports it.
        let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        exitStatus = code
        return code
    }

    /// SIGTERM, then SIGKILL after 10 s; returns once the process has exited.
    public func stop() {
        guard exited() == nil else { return }
        kill(pid, SIGTERM)
        let deadline = Date().addingTimeInterval(10)
        while exited() == nil && Date() < deadline { usleep(50_000) }
        if exited() == nil { kill(pid, SIGKILL) }
        while exited() == nil { usleep(20_000) }
    }

    /// Starts `arguments` with standard output and error appended to `logPath` and standard
    /// input from /dev/null.
    static func spawn(_ arguments: [String], logPath: String, command: String) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, arguments[0], &actions, nil, argv, environ)
        guard rc == 0 else { throw ManagedServerError.launch(command: command, reason: String(cString: strerror(rc))) }
        return pid
    }

    func logTail(_ lines: Int = 3) -> String {
        guard let data = FileManager.default.contents(atPath: logPath) else { return "" }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").suffix(lines).joined(separator: " | ")
    }

    /// A loopback port nobody listens on now (the kernel's choice for port 0).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ManagedServerError.launch(command: "", reason: "no socket for a free port") }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 } }
        guard bound else { throw ManagedServerError.launch(command: "", reason: "cannot find a free port") }
        return Int(UInt16(bigEndian: addr.sin_port))
    }
}

/// A server-backed engine whose server starts on first use (a rerun whose answers are all
/// stored starts nothing) and stops with `stop()`.
public final class StartedServerEngine: InferenceEngine, @unchecked Sendable {
    public let fingerprint: String
    public let batchSize: Int
    private let tokenizer: Tokenizer?
    private let state: LaunchState

    /// - Parameters:
    ///   - modelKey: what names the weights by content (see `ServerEngine`).
    ///   - endpoint: the model's name and the client limits; the base URL is the started server's.
    ///   - tokenizer: the model's tokenizer, read locally: tokens are counted without the server.
    ///   - start: starts the server.
    public init(modelKey: String, endpoint: ChatEndpoint, tokenizer: Tokenizer?, start: @escaping @Sendable () async throws -> ManagedServer) {
        fingerprint = ServerEngine.fingerprint(modelKey: modelKey)
        batchSize = max(1, endpoint.maxConcurrency)
        self.tokenizer = tokenizer
        state = LaunchState { [tokenizer] in
            let server = try await start()
            var e = endpoint
            e.baseURL = server.baseURL
            return (server, try ServerEngine(endpoints: [e], modelKey: modelKey, tokenizer: tokenizer))
        }
    }

    actor LaunchState {
        let launch: @Sendable () async throws -> (ManagedServer, ServerEngine)
        var running: (ManagedServer, ServerEngine)?
        init(launch: @escaping @Sendable () async throws -> (ManagedServer, ServerEngine)) { self.launch = launch }

        func engine() async throws -> ServerEngine {
            if let running, running.0.isRunning { return running.1 }
            running?.0.stop()
            running = try await launch()
            return running!.1
        }
        func stop() { running?.0.stop(); running = nil }
    }

    public func complete(_ requests: [CompletionRequest]) async throws -> [Completion] {
        try await state.engine().complete(requests)
    }

    public func assistantNLL(_ conversations: [[ChatMessage]]) async throws -> [AssistantNLL]? { nil }

    public func countTokens(_ text: String) throws -> Int? { tokenizer?.encode(text, parseSpecial: false).count }

    public func stop() async { await state.stop() }
}
