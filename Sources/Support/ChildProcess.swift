import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A long-running helper (a model server, a training launcher) started from a shell command,
/// with its standard output and error appended to a log file, stopped on request, and never
/// left behind: a watchdog beside it stops it when this process dies without stopping it.
///
/// The command runs under `/bin/sh -c "... exec COMMAND"` in a process group of its own, and
/// signals go to the whole group: launchers such as `accelerate launch` or vLLM start worker
/// processes that a signal to the launcher alone would leave running. It is a `SpawnedProgram`.
public final class ChildProcess: @unchecked Sendable {
    public let command: String
    public let logPath: String
    private let program: SpawnedProgram
    private let lock = NSLock()
    private var exitStatus: Int32?

    /// Starts `command` (a shell command line) with its output appended to `logPath` (created,
    /// with its folder, when missing) and standard input from /dev/null. `environment` adds to
    /// this process's variables (less those saro set for its own libraries).
    public init(command: String, logPath: String, environment: [String: String] = [:]) throws {
        self.command = command
        self.logPath = logPath
        try FileManager.default.createDirectory(atPath: (logPath as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        if !FileManager.default.fileExists(atPath: logPath) { _ = FileManager.default.createFile(atPath: logPath, contents: nil) }
        // `$$` is the shell's pid, which `exec` hands to the command.
        let me = getpid()
        let watchdog = "( while kill -0 \(me) 2>/dev/null && kill -0 $$ 2>/dev/null; do sleep 1; done; kill -0 \(me) 2>/dev/null || kill -TERM -$$ 2>/dev/null ) &"
        var variables = LibraryEnvironment.forChildren
        for (k, v) in environment { variables[k] = v }
        program = try SpawnedProgram.start(["/bin/sh", "-c", watchdog + " exec " + command], environment: variables,
                                           output: .appending(logPath), error: .standardOutput, ownProcessGroup: true)
    }

    /// The shell's process id, which `exec` hands to the command; it leads the process group.
    public var processID: pid_t { program.pid }

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
        guard let ended = program.poll() else { return nil }
        exitStatus = ended.shellStatus
        return exitStatus
    }

    /// SIGTERM to the process group, then SIGKILL to what is left of it after `grace` seconds;
    /// returns once the command has exited.
    public func stop(grace: Double = 10) {
        if exited() == nil { kill(-program.pid, SIGTERM) }
        let deadline = Date().addingTimeInterval(grace)
        while (exited() == nil || kill(-program.pid, 0) == 0) && Date() < deadline { usleep(50_000) }
        kill(-program.pid, SIGKILL)
        while exited() == nil { usleep(20_000) }
    }

    /// The last lines of the log, joined with " | " for an error message.
    public func logTail(_ lines: Int = 3) -> String {
        guard let data = FileManager.default.contents(atPath: logPath) else { return "" }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").suffix(lines).joined(separator: " | ")
    }
}
