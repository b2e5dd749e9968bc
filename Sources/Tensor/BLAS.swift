#if canImport(Glibc)
import Support
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Errors from finding and loading a BLAS library.
public enum BLASError: Error, CustomStringConvertible {
    case notFound(tried: [String], lastError: String)
    case missingSymbol(library: String, symbol: String)

    public var description: String {
        switch self {
        case .notFound(let tried, let err):
            return "no BLAS library could be loaded (tried \(tried.joined(separator: ", ")); last error: \(err)). "
                + "Install one with `apt-get install libdnnl2` (or libopenblas0-pthread), or name a file with SARO_BLAS_LIB."
        case .missingSymbol(let lib, let sym):
            return "BLAS library \(lib) has no symbol \(sym)"
        }
    }
}

/// Row-major single-precision GEMM from a C BLAS loaded at run time.
///
/// oneDNN's `dnnl_sgemm` comes first: it generates its kernels for the CPU it finds, and on
/// training's products (many calls, outputs of megabytes, 64-wide attention blocks) it runs
/// faster than OpenBLAS here (`saro bench train`: about 1.2x the tokens/s). OpenBLAS is the
/// fallback, and the reason the library is opened with dlopen rather than linked: it picks its
/// kernel from OPENBLAS_CORETYPE when it loads, and Debian's build picks a slow generic one on
/// some CPUs, so the program must set that variable before the library is in the process.
/// `BLAS.shared` detects the CPU, sets the kernel family when the user has not, loads the
/// library and then reads back the kernel it chose.
public final class BLAS: @unchecked Sendable {
    public enum Backend: String, Sendable, Codable, CaseIterable { case openblas, dnnl }

    public let backend: Backend
    public let libraryPath: String
    /// The kernel the library reports (OpenBLAS's core name), or the backend's own label.
    public let kernel: String
    /// The OPENBLAS_CORETYPE this process set, or nil when the user's value or OpenBLAS's
    /// own detection was kept.
    public let coreTypeSet: String?
    /// OPENBLAS_CORETYPE as OpenBLAS read it (the user's or saro's), nil when unset.
    public let coreTypeRequested: String?
    /// GOMP_SPINCOUNT as oneDNN's OpenMP runtime read it (the user's, or `gompSpinCount`), nil
    /// for OpenBLAS.
    public let ompSpinCount: String?
    public let threads: Int

    /// How long (in spins) an idle OpenMP worker of oneDNN waits for the next product before it
    /// sleeps. libgomp's default, 300,000, holds the core for milliseconds after every product:
    /// with another busy process on the machine, or saro's own kernels running between
    /// products, the spinning worker takes the core they need (two `saro bench generate` at
    /// once prefilled at 49-63 tokens/s each by default and 199-285 with this; alone the same,
    /// `scripts/bench/omp-spin.sh`). Shorter still (1,000, or OMP_WAIT_POLICY=passive)
    /// cost about a sixth of prefill's speed on the idle machine.
    public static let gompSpinCount = "10000"

    private typealias CblasSgemm = @convention(c) (
        Int32, Int32, Int32, Int32, Int32, Int32, Float, UnsafePointer<Float>?, Int32,
        UnsafePointer<Float>?, Int32, Float, UnsafeMutablePointer<Float>?, Int32) -> Void
    private typealias DnnlSgemm = @convention(c) (
        CChar, CChar, Int64, Int64, Int64, Float, UnsafePointer<Float>?, Int64,
        UnsafePointer<Float>?, Int64, Float, UnsafeMutablePointer<Float>?, Int64) -> Int32

    private let cblas: CblasSgemm?
    private let dnnl: DnnlSgemm?
    /// OpenMP's per-thread thread count (oneDNN's runtime), for `withOneThread`.
    private typealias OMPSetThreads = @convention(c) (Int32) -> Void
    private typealias OMPGetThreads = @convention(c) () -> Int32
    private let ompSetThreads: OMPSetThreads?
    private let ompGetThreads: OMPGetThreads?

    /// Whether several threads can each make single-threaded calls at once (`withOneThread`):
    /// oneDNN reads its thread count from the calling thread's OpenMP setting, while
    /// OpenBLAS's count is process-wide and its calls share one pool.
    public var supportsLanes: Bool { ompSetThreads != nil && ompGetThreads != nil }

    /// Runs body with this thread's BLAS calls on this thread alone, then restores the count.
    public func withOneThread<R>(_ body: () throws -> R) rethrows -> R {
        guard let set = ompSetThreads, let get = ompGetThreads else { return try body() }
        let before = get()
        set(1)
        defer { set(before) }
        return try body()
    }

    /// The process-wide BLAS (`RuntimeSettings`' choice), loaded on first use. The kernels
    /// cannot throw, so a program calls `prepareShared()` before its first product: a library
    /// that fails to load is then an error it reports, and `shared` is only ever the loaded one.
    public static var shared: BLAS {
        switch sharedLoad {
        case .success(let blas): return blas
        case .failure(let error): fatalError("BLAS.shared used after prepareShared() failed or without it: \(error)")
        }
    }

    /// Loads the shared BLAS now, or says why it cannot (which libraries were tried, what to install).
    public static func prepareShared() throws { _ = try sharedLoad.get() }

    private static let sharedLoad: Result<BLAS, Error> = Result { try load() }

    /// Loads the BLAS of `backend` (default oneDNN, then OpenBLAS) or the file `library`.
    ///
    /// OpenBLAS reads OPENBLAS_CORETYPE from the process environment when it is first loaded,
    /// so that is where the user's choice is looked up (OpenBLAS's own interface, not saro's
    /// settings): a kernel the user set is kept, and saro's own choice for the CPU is set only
    /// when there is none. Once OpenBLAS is in the process, its kernel is fixed.
    public static func load(backend: Backend? = RuntimeSettings.current.blasBackend,
                            library: String? = RuntimeSettings.current.blasLibrary) throws -> BLAS {
        let coreTypeSet = coreTypeChosenBySaro
        // OpenBLAS's idle workers spin (sched_yield) for 2^28 cycles after each call by default,
        // taking a core from saro's own kernels between BLAS calls; a shorter spin gives it back.
        LibraryEnvironment.setUnlessGiven("OPENBLAS_THREAD_TIMEOUT", "10")
        // libgomp reads it when oneDNN brings it into the process; a user's value is kept.
        LibraryEnvironment.setUnlessGiven("GOMP_SPINCOUNT", gompSpinCount)
        var candidates: [(Backend, String)] = []
        if let path = library {
            candidates.append((backend ?? (path.contains("dnnl") ? .dnnl : .openblas), path))
        } else {
            let openblas: [(Backend, String)] = ["libopenblas.so.0", "libopenblas.so", "libopenblas.dylib"].map { (.openblas, $0) }
            let dnnl: [(Backend, String)] = ["libdnnl.so.2", "libdnnl.so", "libdnnl.dylib"].map { (.dnnl, $0) }
            candidates = backend == .openblas ? openblas + dnnl : dnnl + openblas
        }
        var lastError = ""
        for (backend, path) in candidates {
            guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
                lastError = dlerror().map { String(cString: $0) } ?? "unknown"
                continue
            }
            return try BLAS(handle: handle, backend: backend, path: path, coreTypeSet: backend == .openblas ? coreTypeSet : nil)
        }
        throw BLASError.notFound(tried: candidates.map(\.1), lastError: lastError)
    }

    /// The OPENBLAS_CORETYPE saro put in the process environment for this CPU, once, before
    /// the first load; nil when the user had set one (or the CPU needs none).
    private static let coreTypeChosenBySaro: String? = {
        guard let core = CPUFeatures.current.openBLASCoreType, LibraryEnvironment.setUnlessGiven("OPENBLAS_CORETYPE", core) else { return nil }
        return core
    }()

    private init(handle: UnsafeMutableRawPointer, backend: Backend, path: String, coreTypeSet: String?) throws {
        self.backend = backend
        self.libraryPath = path
        self.coreTypeSet = coreTypeSet
        self.coreTypeRequested = backend == .openblas ? getenv("OPENBLAS_CORETYPE").map { String(cString: $0) } : nil
        self.ompSpinCount = backend == .dnnl ? getenv("GOMP_SPINCOUNT").map { String(cString: $0) } : nil
        func symbol(_ name: String) -> UnsafeMutableRawPointer? { dlsym(handle, name) }
        switch backend {
        case .openblas:
            guard let f = symbol("cblas_sgemm") else { throw BLASError.missingSymbol(library: path, symbol: "cblas_sgemm") }
            cblas = unsafeBitCast(f, to: CblasSgemm.self)
            dnnl = nil
            typealias CoreName = @convention(c) () -> UnsafeMutablePointer<CChar>?
            typealias NumThreads = @convention(c) () -> Int32
            kernel = symbol("openblas_get_corename")
                .flatMap { unsafeBitCast($0, to: CoreName.self)() }
                .map { String(cString: $0) } ?? "unknown"
            threads = symbol("openblas_get_num_threads").map { Int(unsafeBitCast($0, to: NumThreads.self)()) } ?? 1
            ompSetThreads = nil; ompGetThreads = nil
        case .dnnl:
            guard let f = symbol("dnnl_sgemm") else { throw BLASError.missingSymbol(library: path, symbol: "dnnl_sgemm") }
            dnnl = unsafeBitCast(f, to: DnnlSgemm.self)
            cblas = nil
            kernel = "dnnl (runtime CPU dispatch)"
            // The OpenMP runtime oneDNN was built with is already loaded with it; a oneDNN
            // built on another runtime (TBB, threadpool) has no such symbols and gets no lanes.
            let omp = dlopen("libgomp.so.1", RTLD_NOW | RTLD_NOLOAD) ?? dlopen("libomp.so", RTLD_NOW | RTLD_NOLOAD)
            ompSetThreads = omp.flatMap { dlsym($0, "omp_set_num_threads") }.map { unsafeBitCast($0, to: OMPSetThreads.self) }
            ompGetThreads = omp.flatMap { dlsym($0, "omp_get_max_threads") }.map { unsafeBitCast($0, to: OMPGetThreads.self) }
            threads = ompGetThreads.map { Int($0()) } ?? Parallel.threads
        }
    }

    /// C[m,n] = alpha * op(A)[m,k] * op(B)[k,n] + beta * C, all row-major.
    /// op(A) is A ([m,k], lda >= k) or A transposed (A stored [k,m], lda >= m); likewise B.
    public func sgemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        if m == 0 || n == 0 { return }
        if k == 0 {
            // BLAS leaves C untouched when k == 0 only for beta == 1; make it exact for any beta.
            for i in 0..<m { for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] } }
            return
        }
        let started = GemmProfile.enabled ? MonotonicClock.seconds() : 0
        defer { if GemmProfile.enabled { GemmProfile.record(transA, transB, m, n, k, seconds: MonotonicClock.seconds() - started) } }
        if let cblas {
            cblas(101 /* row major */, transA ? 112 : 111, transB ? 112 : 111,
                  Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
        } else if let dnnl {
            _ = dnnl(transA ? 84 : 78, transB ? 84 : 78, Int64(m), Int64(n), Int64(k), alpha,
                     a, Int64(lda), b, Int64(ldb), beta, c, Int64(ldc))
        }
    }
}
