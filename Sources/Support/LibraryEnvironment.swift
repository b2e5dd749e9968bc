import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Variables saro puts in its own environment for a library it loads, which reads them when it
/// loads (OpenBLAS's kernel family, how long OpenMP's idle threads spin): there is no other way
/// to pass them. The programs saro starts (servers, TRL, reference runs) run as their own users
/// run them, so `forChildren` leaves out what saro set; a value the user set passes through.
public enum LibraryEnvironment {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var setBySaro: Set<String> = []

    /// Sets name=value unless the environment already has the name; true when saro set it.
    @discardableResult
    public static func setUnlessGiven(_ name: String, _ value: String) -> Bool {
        lock.lock(); defer { lock.unlock() }
        guard getenv(name) == nil else { return false }
        setenv(name, value, 0)
        setBySaro.insert(name)
        return true
    }

    /// This process's environment without the variables saro set for its own libraries.
    public static var forChildren: [String: String] {
        lock.lock(); defer { lock.unlock() }
        return ProcessInfo.processInfo.environment.filter { !setBySaro.contains($0.key) }
    }
}
