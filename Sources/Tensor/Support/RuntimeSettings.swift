import Foundation

/// Process-wide engine settings: how many threads saro's kernels use, which BLAS it loads, up
/// to how many rows the few-rows kernel serves a product, whether sgemm calls are profiled.
/// Libraries read them here and never from the environment; the command line reads the
/// environment once (`fromEnvironment`) and calls `configure` before any work, and everyone
/// else (tests, programs embedding saro) gets the defaults or passes their own.
public struct RuntimeSettings: Sendable, Equatable {
    /// Threads of saro's own kernels; nil: one per online core.
    public var threads: Int?
    /// The BLAS library: nil backend tries oneDNN, then OpenBLAS; `blasLibrary` names a file.
    public var blasBackend: BLAS.Backend?
    public var blasLibrary: String?
    /// Rows up to which the few-rows kernel (quantized or float32 weights) beats BLAS.
    public var fewRowsLimit = 32
    /// Time every sgemm by shape and print the table at exit.
    public var gemmProfile = false
    /// Bytes of freed large tensor buffers kept for reuse (0: none), so training steps and
    /// decoding do not return memory to the system and fault it in again on every step.
    public var bufferPoolBytes = 1 << 30
    /// Microseconds the decoding loops' workers spin between jobs before they sleep (0: no
    /// spinning pool; those loops then wake threads per loop like every other).
    public var spinMicroseconds = 200

    public init() {}

    /// SARO_THREADS, SARO_BLAS (dnnl or openblas), SARO_BLAS_LIB, SARO_FEW_ROWS, SARO_GEMM_PROFILE=1,
    /// SARO_BUFFER_POOL_MB, SARO_SPIN_US.
    /// An unusable value is reported in `problems` and the default kept.
    public static func fromEnvironment(_ env: [String: String]) -> (settings: RuntimeSettings, problems: [String]) {
        var s = RuntimeSettings(), problems: [String] = []
        if let v = env["SARO_THREADS"] {
            if let n = Int(v), n > 0 { s.threads = n } else { problems.append("SARO_THREADS=\(v) is not a positive whole number") }
        }
        if let v = env["SARO_BLAS"] {
            if let b = BLAS.Backend(rawValue: v) { s.blasBackend = b } else { problems.append("SARO_BLAS=\(v) is neither dnnl nor openblas") }
        }
        if let v = env["SARO_BLAS_LIB"], !v.isEmpty { s.blasLibrary = v }
        if let v = env["SARO_FEW_ROWS"] {
            if let n = Int(v), n >= 0 { s.fewRowsLimit = n } else { problems.append("SARO_FEW_ROWS=\(v) is not a whole number >= 0") }
        }
        s.gemmProfile = env["SARO_GEMM_PROFILE"] == "1"
        if let v = env["SARO_BUFFER_POOL_MB"] {
            if let n = Int(v), n >= 0, n <= 1 << 20 { s.bufferPoolBytes = n << 20 } else { problems.append("SARO_BUFFER_POOL_MB=\(v) is not a whole number of MiB in 0...1048576") }
        }
        if let v = env["SARO_SPIN_US"] {
            if let n = Int(v), (0...100_000).contains(n) { s.spinMicroseconds = n } else { problems.append("SARO_SPIN_US=\(v) is not a whole number of microseconds in 0...100000") }
        }
        return (s, problems)
    }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var value = RuntimeSettings()
    nonisolated(unsafe) private static var read = false

    /// The settings in force. The first read fixes them (threads and the BLAS cannot change
    /// once kernels have run).
    public static var current: RuntimeSettings {
        lock.lock(); defer { lock.unlock() }
        read = true
        return value
    }

    /// Sets the settings; returns false (and changes nothing) once they have been read.
    @discardableResult
    public static func configure(_ settings: RuntimeSettings) -> Bool {
        lock.lock(); defer { lock.unlock() }
        guard !read else { return settings == value }
        value = settings
        return true
    }
}
