import Foundation
#if canImport(Glibc)
import Glibc
#endif

public enum ChildProcessError: Error, CustomStringConvertible {
    case launch(command: String, reason: String)

    public var description: String {
        switch self {
        case .launch(let c, let r): return "cannot start \(c): \(r)"
        }
    }
}

/// A long-running helper (a model server, a training launcher) started from a shell command,
/// with its standard output and error appended to a log file, stopped on request, and never
/// left behind: a watchdog beside it stops it when this process dies without stopping it.
///
/// The command runs under `/bin/sh -c "... exec COMMAND"` in a process group of its own, and
/// signals go to the whole group: launchers such as `accelerate launch` or vLLM start worker
/// processes that a signal to the launcher alone would leave running. It is spawned and reaped with posix_spawn and waitpid, not
/// Foundation's Process, whose exit monitoring can miss a child's exit in a multi-threaded
/// process and leave `waitUntilExit` blocked on a zombie.
public final class ChildProcess: @unchecked Sendable {
    public let command: String
    public let logPath: String
    private let pid: pid_t
    private let lock = NSLock()
    private var exitStatus: Int32?

    /// Starts `command` (a shell command line) with its output appended to `logPath` (created,
    /// with its folder, when missing) and standard input from /dev/null. `environment` adds to
    /// this process's variables.
    public init(command: String, logPath: String, environment: [String: String] = [:]) throws {
        self.command = command
        self.logPath = logPath
        try FileManager.default.createDirectory(atPath: (logPath as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        if !FileManager.default.fileExists(atPath: logPath) { _ = FileManager.default.createFile(atPath: logPath, contents: nil) }
        // `$$` is the shell's pid, which `exec` hands to the command.
        let me = getpid()
        let watchdog = "( while kill -0 \(me) 2>/dev/null && kill -0 $$ 2>/dev/null; do sleep 1; done; kill -0 \(me) 2>/dev/null || kill -TERM -$$ 2>/dev/null ) &"
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let arguments = ["/bin/sh", "-c", watchdog + " exec " + command]
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        let envp: [UnsafeMutablePointer<CChar>?] = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for e in envp { free(e) } }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The child would inherit this process's blocked and ignored signals (saro blocks some
        // for its own handlers), and then ignore the SIGTERM that stops it: it starts with
        // none blocked and the usual signals at their defaults.
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        posix_spawnattr_setpgroup(&attributes, 0)
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in [SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, arguments[0], &actions, &attributes, argv, envp)
        guard rc == 0 else { throw ChildProcessError.launch(command: command, reason: String(cString: strerror(rc))) }
        self.pid = pid
    }

    /// `template` with every `{key}` replaced by its shell-quoted value.
    public static func fill(_ template: String, _ values: [String: String]) -> String {
        var out = template
        for (k, v) in values { out = out.replacingOccurrences(of: "{\(k)}", with: quote(v)) }
        return out
    }

    /// `value` as one shell word.
    public static func quote(_ value: String) -> String { "'" + value.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    public var isRunning: Bool { exited() == nil }

    /// The exit status once the process has ended (reaping it), else nil: the exit code, or
    /// 128 + the signal that ended it, as a shell reports it.
    public func exited() -> Int32? {
        lock.lock(); defer { lock.unlock() }
        if let exitStatus { return exitStatus }
        var status: Int32 = 0
        let r = waitpid(pid, &status, WNOHANG)
        guard r == pid || (r < 0 && errno == ECHILD) else { return nil }
        let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        exitStatus = code
        return code
    }

    /// SIGTERM to the process group, then SIGKILL to what is left of it after `grace` seconds;
    /// returns once the command has exited.
    public func stop(grace: Double = 10) {
        if exited() == nil { kill(-pid, SIGTERM) }
        let deadline = Date().addingTimeInterval(grace)
        while (exited() == nil || kill(-pid, 0) == 0) && Date() < deadline { usleep(50_000) }
        kill(-pid, SIGKILL)
        while exited() == nil { usleep(20_000) }
    }

    /// The last lines of the log, joined with " | " for an error message.
    public func logTail(_ lines: Int = 3) -> String {
        guard let data = FileManager.default.contents(atPath: logPath) else { return "" }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").suffix(lines).joined(separator: " | ")
    }
}
