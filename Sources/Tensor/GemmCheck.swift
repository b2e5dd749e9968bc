/// Checks a BLAS's sgemm against a naive double-precision product, with padded leading
/// dimensions, alpha and beta, on the transpose combinations and shapes training uses: a kernel
/// that is fast but wrong on this CPU (a known hazard of OpenBLAS's per-CPU kernels) fails here.
/// The tests call it for each backend, and `saro system --check-gemm` for the library the
/// process loaded, so a user can check the kernel their environment selects.
public enum GemmCheck {
    public struct Shape: Sendable, Codable, CustomStringConvertible {
        public var m: Int, n: Int, k: Int, transA: Bool, transB: Bool
        public init(m: Int, n: Int, k: Int, transA: Bool, transB: Bool) {
            self.m = m; self.n = n; self.k = k; self.transA = transA; self.transB = transB
        }
        public var description: String { "m \(m) n \(n) k \(k) transA \(transA) transB \(transB)" }
    }

    public struct Result: Sendable, Codable {
        public var shape: Shape
        /// Largest |C - reference| over C's entries.
        public var maxError: Double
        /// The bound it must stay under: 1e-6 per term of the dot product (k).
        public var tolerance: Double
        /// Whether the padding columns of C kept their value.
        public var paddingKept: Bool
        public var passed: Bool { maxError < tolerance && paddingKept }
    }

    /// Every transpose combination at an odd size, then training's shapes: 64-wide attention
    /// blocks, rank-16 adapters, a projection.
    public static let trainingShapes: [Shape] = [
        Shape(m: 37, n: 29, k: 53, transA: false, transB: false), Shape(m: 37, n: 29, k: 53, transA: false, transB: true),
        Shape(m: 37, n: 29, k: 53, transA: true, transB: false), Shape(m: 37, n: 29, k: 53, transA: true, transB: true),
        Shape(m: 128, n: 320, k: 64, transA: false, transB: true), Shape(m: 256, n: 64, k: 128, transA: true, transB: false),
        Shape(m: 512, n: 16, k: 576, transA: false, transB: true), Shape(m: 16, n: 576, k: 512, transA: true, transB: false),
        Shape(m: 300, n: 576, k: 192, transA: false, transB: false),
    ]

    /// C = 2 op(A) op(B) + 3 C on uniform data, compared entry by entry with the reference.
    public static func check(_ blas: BLAS, _ s: Shape) -> Result {
        var rng = SplitMix64(seed: 7)
        let lda = (s.transA ? s.m : s.k) + 3, ldb = (s.transB ? s.k : s.n) + 5, ldc = s.n + 2
        let a = Tensor.uniform([(s.transA ? s.k : s.m) * lda], rng: &rng)
        let b = Tensor.uniform([(s.transB ? s.n : s.k) * ldb], rng: &rng)
        let c = Tensor(repeating: 0.5, shape: [s.m * ldc])
        blas.sgemm(transA: s.transA, transB: s.transB, m: s.m, n: s.n, k: s.k, alpha: 2, a: a.data, lda: lda,
                   b: b.data, ldb: ldb, beta: 3, c: c.data, ldc: ldc)
        var worst = 0.0
        for i in 0..<s.m { for j in 0..<s.n {
            var ref = 0.0
            for p in 0..<s.k {
                let av = s.transA ? a.data[p * lda + i] : a.data[i * lda + p]
                let bv = s.transB ? b.data[j * ldb + p] : b.data[p * ldb + j]
                ref += Double(av) * Double(bv)
            }
            worst = max(worst, abs(Double(c.data[i * ldc + j]) - (2 * ref + 1.5)))
        } }
        let paddingKept = (0..<s.m).allSatisfy { i in (s.n..<ldc).allSatisfy { c.data[i * ldc + $0] == 0.5 } }
        return Result(shape: s, maxError: worst, tolerance: 1e-6 * Double(s.k), paddingKept: paddingKept)
    }

    public static func checkAll(_ blas: BLAS) -> [Result] { trainingShapes.map { check(blas, $0) } }
}
