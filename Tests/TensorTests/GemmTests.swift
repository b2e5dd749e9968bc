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
    static let backends: [BLAS] = BLAS.Backend.allCases.compactMap { try? BLAS.load(environment: ["SARO_BLAS": $0.rawValue]) }

    @Test func bothBackendsLoad() {
        #expect(Set(Self.backends.map(\.backend)) == Set(BLAS.Backend.allCases))
    }

    @Test(arguments: [(false, false), (false, true), (true, false), (true, true)])
    func allTransposeCombinations(transA: Bool, transB: Bool) {
        for blas in Self.backends { checkProduct(blas, transA: transA, transB: transB, m: 37, n: 29, k: 53) }
    }

    /// Training's shapes: 64-wide attention blocks, rank-16 adapters, a projection.
    @Test(arguments: [(128, 320, 64, false, true), (256, 64, 128, true, false), (512, 16, 576, false, true), (16, 576, 512, true, false), (300, 576, 192, false, false)])
    func trainingShapes(m: Int, n: Int, k: Int, transA: Bool, transB: Bool) {
        for blas in Self.backends { checkProduct(blas, transA: transA, transB: transB, m: m, n: n, k: k) }
    }

    func checkProduct(_ blas: BLAS, transA: Bool, transB: Bool, m: Int, n: Int, k: Int) {
        var rng = SplitMix64(seed: 7)
        // Stored with padded leading dimensions to exercise lda/ldb/ldc.
        let lda = (transA ? m : k) + 3, ldb = (transB ? k : n) + 5, ldc = n + 2
        let a = Tensor.uniform([(transA ? k : m) * lda], rng: &rng), b = Tensor.uniform([(transB ? n : k) * ldb], rng: &rng)
        let c = Tensor(repeating: 0.5, shape: [m * ldc])
        blas.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 2, a: a.data, lda: lda, b: b.data, ldb: ldb,
                          beta: 3, c: c.data, ldc: ldc)
        let ref = Self.naive(m: m, n: n, k: k,
                             a: { i, p in transA ? a.data[p * lda + i] : a.data[i * lda + p] },
                             b: { p, j in transB ? b.data[j * ldb + p] : b.data[p * ldb + j] })
        var worst = 0.0
        for i in 0..<m { for j in 0..<n { worst = max(worst, abs(Double(c.data[i * ldc + j]) - (2 * ref[i * n + j] + 1.5))) } }
        #expect(worst < 1e-6 * Double(k), "\(blas.backend) m \(m) n \(n) k \(k) transA \(transA) transB \(transB)")
        // Padding columns of C are untouched.
        #expect(c.data[ldc - 1] == 0.5)
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

    /// OpenBLAS, the fallback, runs the kernel family saro chose for this CPU, not the slow
    /// generic one Debian's build would pick.
    @Test func openBLASKernelMatchesTheCPU() throws {
        let blas = try #require(Self.backends.first { $0.backend == .openblas })
        if let expected = CPUFeatures.current.openBLASCoreType, blas.coreTypeSet != nil {
            #expect(blas.kernel == expected)
        }
    }

    @Test func dnnlIsTheDefault() {
        let env = BLAS.currentEnvironment()
        if env["SARO_BLAS"] == nil && env["SARO_BLAS_LIB"] == nil { #expect(BLAS.shared.backend == .dnnl) }
    }
}
