import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Running a helper program (python3 for pip downloads and the reference measurements) and
/// collecting what it printed.
public enum Subprocess {
    public struct Output: Sendable {
        public let termination: Termination
        public let stdout: Data
        public let stderr: Data
        /// The exit code, or the signal's number when `termination.signalled`.
        public var status: Int32 { termination.code }
        public var succeeded: Bool { termination == Termination(code: 0, signalled: false) }
        public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
        /// The last lines of standard error, for an error message.
        public func stderrTail(_ lines: Int = 3) -> String {
            String(decoding: stderr, as: UTF8.self).split(separator: "\n").suffix(lines).joined(separator: " | ")
        }
    }

    /// Runs `arguments[0]` (a path, or a name found on PATH) with the rest as its arguments, in
    /// `environment` when given (else this process's) and `workingDirectory` when given; both
    /// outputs are read side by side so neither pipe can fill up and stall the child.
    public static func run(_ arguments: [String], environment: [String: String]? = nil, workingDirectory: String? = nil) throws -> Output {
        let out = try ClosingPipe()
        let err: ClosingPipe
        do { err = try ClosingPipe() } catch { close(out.read); close(out.write); throw error }
        let program: SpawnedProgram
        do {
            program = try SpawnedProgram.start(arguments, environment: environment, workingDirectory: workingDirectory,
                                               output: .descriptor(out.write), error: .descriptor(err.write))
        } catch {
            for fd in [out.read, out.write, err.read, err.write] { close(fd) }
            throw error
        }
        close(out.write)
        close(err.write)
        let data = ClosingPipe.drain([out.read, err.read])
        return Output(termination: program.wait(), stdout: data[0], stderr: data[1])
    }
}
