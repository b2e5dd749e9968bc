import Testing
@testable import Tensor

/// BLAS sgemm and Tensor.matmul against a naive double-precision reference.
@Suite struct GemmTests {
    /// C = op(A) op(B), each op given as a row-major [rows, cols] accessor.
    static func naive(m: Int, n: Int, k: Int, a: (Int, Int) -> Float, b: (Int, Int) -> Float) -> [Double] {
        var c = [Double](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n {
            var s = 0.0
            for p in 0..<k { s += Double(a(i, p)) * Double(b(p, j)) }
            c[i * n + j] = s
        } }
        return c
    }

    /// Every backend this machine can load (setup.sh installs both), not only the default.
    static let backends: [BLAS] = BLAS.Backend.allCases.compactMap { try? BLAS.load(backend: $0, library: nil) }

    @Test func bothBackendsLoad() {
        #expect(Set(Self.backends.map(\.backend)) == Set(BLAS.Backend.allCases))
    }

    /// Every transpose combination and training's shapes, on each backend, against the
    /// double-precision reference (`GemmCheck`, which `saro system --check-gemm` also runs).
    @Test(arguments: GemmCheck.trainingShapes)
    func productsMatchTheDoubleReference(shape: GemmCheck.Shape) {
        for blas in Self.backends {
            let r = GemmCheck.check(blas, shape)
            #expect(r.maxError < r.tolerance, "\(blas.backend) \(shape): error \(r.maxError)")
            #expect(r.paddingKept, "\(blas.backend) \(shape) wrote into C's padding")
        }
    }

    /// A product that is wrong in one entry fails the check: the check can fail.
    @Test func checkCatchesAWrongProduct() throws {
        let blas = try #require(Self.backends.first)
        let good = GemmCheck.check(blas, GemmCheck.trainingShapes[0])
        #expect(good.passed)
        let broken = GemmCheck.Result(shape: good.shape, maxError: good.tolerance * 2, tolerance: good.tolerance, paddingKept: true)
        #expect(!broken.passed)
    }

    @Test func matmulReadsTransposedAndSlicedViewsWithoutChangingResults() {
        var rng = SplitMix64(seed: 8)
        let a = Tensor.uniform([3, 6, 5], rng: &rng)       // [batch, m, k]
        let bt = Tensor.uniform([3, 7, 6], rng: &rng)      // [batch, n, k] -> transposed view [batch, k, n]
        let b = bt.transposed().slice(1, 1..<6)            // [3, 5, 7], non-contiguous
        let c = a.matmul(b)
        #expect(c.shape == [3, 6, 7])
        for batch in 0..<3 {
            let ref = Self.naive(m: 6, n: 7, k: 5, a: { a[index: [batch, $0, $1]] }, b: { b[index: [batch, $0, $1]] })
            for i in 0..<6 { for j in 0..<7 { #expect(abs(Double(c[index: [batch, i, j]]) - ref[i * 7 + j]) < 1e-5) } }
        }
    }

    @Test func matmulBroadcastsAMatrixOverTheBatch() {
        var rng = SplitMix64(seed: 9)
        let a = Tensor.uniform([2, 4, 3], rng: &rng), w = Tensor.uniform([3, 5], rng: &rng)
        let c = a.matmul(w)
        let ref = a[1].matmul(w)
        #expect(c[1].scalars == ref.scalars)
    }

    @Test func benchmarkChecksItsProduct() {
        let r = GemmBenchmark.run(m: 64, n: 96, k: 80, runs: 2)
        #expect(r.gflops > 0)
        #expect(r.maxRelativeError < 1e-4)
    }

    /// OpenBLAS, the fallback, runs the kernel family in OPENBLAS_CORETYPE when it loaded:
    /// the user's when the environment held one, else saro's choice for this CPU. (Each case
    /// in a process of its own: CLITests.systemReportsTheKernelOpenBLASRuns.)
    @Test func openBLASRunsTheRequestedKernel() throws {
        let blas = try #require(Self.backends.first { $0.backend == .openblas })
        if let saros = blas.coreTypeSet {
            #expect(blas.kernel.lowercased() == saros.lowercased())
            #expect(saros == CPUFeatures.current.openBLASCoreType)
        } else if let requested = blas.coreTypeRequested,
                  CPUFeatures.current.openBLASCoreTypesToCheck.map({ $0.lowercased() }).contains(requested.lowercased()) {
            #expect(blas.kernel.lowercased() == requested.lowercased())
        }
    }

    /// The tests run with the default settings (nothing configured them), whatever SARO_BLAS says.
    @Test func dnnlIsTheDefault() {
        #expect(RuntimeSettings.current.blasBackend == nil)
        #expect(BLAS.shared.backend == .dnnl)
    }
}
