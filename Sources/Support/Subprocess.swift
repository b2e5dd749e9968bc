import Foundation

/// Running a helper program (python3 for pip downloads and the reference measurements) and
/// collecting what it printed.
public enum Subprocess {
    public struct Output: Sendable {
        public let status: Int32
        public let stdout: Data
        public let stderr: Data
        public var succeeded: Bool { status == 0 }
        public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
        /// The last lines of standard error, for an error message.
        public func stderrTail(_ lines: Int = 3) -> String {
            String(decoding: stderr, as: UTF8.self).split(separator: "\n").suffix(lines).joined(separator: " | ")
        }
    }

    /// Runs `arguments[0]` found on PATH with the rest as its arguments, in `environment` when
    /// given (else this process's); both outputs are read concurrently so neither pipe can fill
    /// up and stall the child.
    public static func run(_ arguments: [String], environment: [String: String]? = nil) throws -> Output {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = arguments
        if let environment { p.environment = environment }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        final class Collected: @unchecked Sendable { var data = Data() }   // written by one thread, read after wait()
        let errData = Collected()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errData.data = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        p.waitUntilExit()
        return Output(status: p.terminationStatus, stdout: outData, stderr: errData.data)
    }
}
