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
/// caller's, each shell-quoted. The server runs as a `ChildProcess`: its output goes to
/// `logPath`, and it never outlives this process.
public final class ManagedServer: StageServer, @unchecked Sendable {
    public let baseURL: String
    private let process: ChildProcess
    public var command: String { process.command }
    public var logPath: String { process.logPath }

    private init(baseURL: String, process: ChildProcess) {
        self.baseURL = baseURL; self.process = process
    }

    /// Starts the server and returns once `GET /v1/models` answers 200.
    public static func start(template: String, values: [String: String], logPath: String, startupTimeout: Double) async throws -> ManagedServer {
        let port = try freePort()
        let command = ChildProcess.fill(template, values.merging(["port": "\(port)"]) { a, _ in a })
        try? FileManager.default.removeItem(atPath: logPath)
        let process: ChildProcess
        do { process = try ChildProcess(command: command, logPath: logPath) } catch SpawnError.launch(_, let reason) {
            throw ManagedServerError.launch(command: command, reason: reason)
        }
        let server = ManagedServer(baseURL: "http://127.0.0.1:\(port)/v1", process: process)
        let deadline = Date().addingTimeInterval(startupTimeout)
        while true {
            if let status = process.exited() { throw ManagedServerError.exited(command: command, status: status, log: logPath, tail: process.logTail()) }
            if await server.answers() { return server }
            if Date() > deadline {
                server.stop()
                throw ManagedServerError.notReady(command: command, seconds: startupTimeout, log: logPath, tail: process.logTail())
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

    public var isRunning: Bool { process.isRunning }

    /// SIGTERM, then SIGKILL after 10 s; returns once the server has exited.
    public func stop() { process.stop() }

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
