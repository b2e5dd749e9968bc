import CSupport
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Where a started program's standard input, output or error is connected.
public enum SpawnStream: Sendable {
    /// /dev/null.
    case null
    /// This process's own.
    case inherit
    /// A file, created when missing, written at its end.
    case appending(String)
    /// For standard error: wherever standard output goes (`2>&1`).
    case standardOutput
    /// An open descriptor of this process, such as a pipe's write end.
    case descriptor(Int32)
}

/// How a program ended: its exit code, or the number of the signal that ended it.
public struct Termination: Sendable, Equatable {
    public let code: Int32
    public let signalled: Bool

    /// As a shell reports it: the exit code, or 128 + the signal.
    public var shellStatus: Int32 { signalled ? 128 + code : code }

    /// From waitpid's status word.
    init(waitStatus status: Int32) {
        let signal = status & 0x7f
        if signal == 0 { code = (status >> 8) & 0xff; signalled = false } else { code = signal; signalled = true }
    }

    /// A child that another waiter reaped first (waitpid's ECHILD): it has ended, how is unknown.
    static let reapedElsewhere = Termination(code: -1, signalled: false)

    public init(code: Int32, signalled: Bool) { self.code = code; self.signalled = signalled }
}

public enum SpawnError: Error, CustomStringConvertible {
    case launch(program: String, reason: String)

    public var description: String {
        switch self {
        case .launch(let p, let r): return "cannot start \(p): \(r)"
        }
    }
}

/// A program started with posix_spawn and reaped with waitpid: the one way saro and its tests
/// start other programs.
///
/// Not Foundation's Process, for two reasons found as hangs in a test process with many threads:
/// its exit monitoring can miss a child's exit and leave `waitUntilExit` blocked on a zombie,
/// and it learns of the exit from a socket the child holds, while descriptors that another
/// thread opens during the spawn leak into the child. Here the child gets only its three
/// standard streams (every descriptor from 3 up is closed in it), so a helper it leaves running
/// cannot keep a pipe or socket of this process open; it starts with no signal blocked and the
/// usual ones at their defaults (saro blocks some for its own handlers, and a child that
/// inherited that would ignore the SIGTERM meant to stop it).
public struct SpawnedProgram: Sendable {
    public let pid: pid_t

    /// Starts `arguments[0]` (a path, or a name looked up on PATH) with the rest as arguments.
    /// `environment` replaces the child's variables when given (else this process's, less those
    /// saro set for its own libraries: `LibraryEnvironment`); `workingDirectory` is the
    /// child's folder (paths in the streams are resolved before it is entered); with
    /// `ownProcessGroup` the child leads a new process group, so a signal can reach its workers.
    public static func start(_ arguments: [String], environment: [String: String]? = nil, workingDirectory: String? = nil,
                             input: SpawnStream = .null, output: SpawnStream = .inherit, error: SpawnStream = .inherit,
                             ownProcessGroup: Bool = false) throws -> SpawnedProgram {
        guard let program = arguments.first else { throw SpawnError.launch(program: "(nothing)", reason: "no program given") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (fd, stream) in [(Int32(0), input), (1, output), (2, error)] {
            switch stream {
            case .null: posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0)
            case .inherit: break
            case .appending(let path): posix_spawn_file_actions_addopen(&actions, fd, path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
            case .standardOutput: posix_spawn_file_actions_adddup2(&actions, 1, fd)
            case .descriptor(let d): posix_spawn_file_actions_adddup2(&actions, d, fd)
            }
        }
        if let workingDirectory {
            let rc = saro_spawn_add_chdir(&actions, workingDirectory)
            if rc != 0 { throw SpawnError.launch(program: program, reason: "cannot enter \(workingDirectory): \(String(cString: strerror(rc)))") }
        }
        // Where the C library has no such action, the child keeps what it inherits.
        _ = saro_spawn_add_closefrom(&actions, 3)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var flags = Int32(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)
        if ownProcessGroup { flags |= Int32(POSIX_SPAWN_SETPGROUP) }
        posix_spawnattr_setflags(&attributes, Int16(flags))
        posix_spawnattr_setpgroup(&attributes, 0)
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in [SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE, SIGCHLD] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)

        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        let variables = environment ?? LibraryEnvironment.forChildren
        let envp: [UnsafeMutablePointer<CChar>?] = variables.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for e in envp { free(e) } }
        var pid: pid_t = 0
        let rc = program.contains("/")
            ? posix_spawn(&pid, program, &actions, &attributes, argv, envp)
            : posix_spawnp(&pid, program, &actions, &attributes, argv, envp)
        guard rc == 0 else { throw SpawnError.launch(program: program, reason: String(cString: strerror(rc))) }
        return SpawnedProgram(pid: pid)
    }

    /// Sends `signal` to the program (to its whole group with `group`, for one started with
    /// `ownProcessGroup`).
    public func signal(_ signal: Int32, group: Bool = false) { kill(group ? -pid : pid, signal) }

    /// Waits until the program has ended, and reaps it.
    public func wait() -> Termination {
        var status: Int32 = 0
        while true {
            let r = waitpid(pid, &status, 0)
            if r == pid { return Termination(waitStatus: status) }
            if r < 0 && errno == EINTR { continue }
            return .reapedElsewhere
        }
    }

    /// How the program ended if it has (reaping it), else nil. Once reaped, ask no more: the
    /// process id may be reused.
    public func poll() -> Termination? {
        var status: Int32 = 0
        let r = waitpid(pid, &status, WNOHANG)
        if r == pid { return Termination(waitStatus: status) }
        if r < 0 && errno == ECHILD { return .reapedElsewhere }
        return nil
    }
}

/// The read and write ends of a pipe that no other started program inherits.
struct ClosingPipe {
    let read: Int32
    let write: Int32

    init() throws {
        var fds: [Int32] = [-1, -1]
        guard saro_pipe_cloexec(&fds) == 0 else { throw SpawnError.launch(program: "a pipe", reason: String(cString: strerror(errno))) }
        read = fds[0]; write = fds[1]
    }

    /// Everything written to the given read ends until each is closed by its writers, read
    /// side by side (so neither pipe fills up and stalls the writer); closes them.
    static func drain(_ fds: [Int32]) -> [Data] {
        var collected = [Data](repeating: Data(), count: fds.count)
        var open = fds.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        var buffer = [UInt8](repeating: 0, count: 65536)
        var remaining = fds.count
        while remaining > 0 {
            if poll(&open, nfds_t(open.count), -1) < 0 {
                if errno == EINTR { continue }
                break
            }
            for i in open.indices where open[i].fd >= 0 && open[i].revents != 0 {
                let n = buffer.withUnsafeMutableBytes { Glibc.read(open[i].fd, $0.baseAddress, $0.count) }
                if n > 0 { collected[i].append(contentsOf: buffer[0..<n]); continue }
                if n < 0 && errno == EINTR { continue }
                close(open[i].fd)
                open[i].fd = -1   // poll ignores negative descriptors
                remaining -= 1
            }
        }
        for p in open where p.fd >= 0 { close(p.fd) }
        return collected
    }
}
