#if canImport(Glibc)
import Support
import Glibc
#endif

/// Measures `BLAS.sgemm` throughput, and checks a sample of the product against a naive
/// double-precision reference so a fast but wrong kernel cannot pass.
public enum GemmBenchmark {
    public struct Result: Codable, Sendable {
        public var m: Int, n: Int, k: Int
        public var gflops: Double
        public var bestSeconds: Double
        public var runs: Int
        /// Largest |C - reference| / (|reference| + 1e-3 * scale) over the sampled entries.
        public var maxRelativeError: Double
    }

    /// Best of `runs` timed calls of C[m,n] = A[m,k] B[k,n] after one warm-up call.
    public static func run(m: Int, n: Int, k: Int, runs: Int = 10, blas: BLAS = .shared) -> Result {
        var rng = SplitMix64(seed: 42)
        let a = Tensor.uniform([m, k], rng: &rng), b = Tensor.uniform([k, n], rng: &rng)
        let c = Tensor(zeros: [m, n])
        func once() {
            blas.sgemm(transA: false, transB: false, m: m, n: n, k: k, a: a.data, lda: k, b: b.data, ldb: n, c: c.data, ldc: n)
        }
        once()
        var best = Double.infinity
        for _ in 0..<max(1, runs) {
            let t0 = MonotonicClock.seconds()
            once()
            best = min(best, MonotonicClock.seconds() - t0)
        }
        return Result(m: m, n: n, k: k, gflops: 2.0 * Double(m) * Double(n) * Double(k) / best / 1e9,
                      bestSeconds: best, runs: runs, maxRelativeError: sampledError(a: a, b: b, c: c, samples: 256, rng: &rng))
    }

    /// Compares `samples` random entries of c = a b with a Double dot product.
    static func sampledError(a: Tensor, b: Tensor, c: Tensor, samples: Int, rng: inout SplitMix64) -> Double {
        let m = a.shape[0], k = a.shape[1], n = b.shape[1]
        var worst = 0.0
        for _ in 0..<samples {
            let i = Int(rng.next() % UInt64(m)), j = Int(rng.next() % UInt64(n))
            var ref = 0.0, scale = 0.0
            for p in 0..<k {
                let term = Double(a.data[i * k + p]) * Double(b.data[p * n + j])
                ref += term
                scale += abs(term)
            }
            worst = max(worst, abs(Double(c.data[i * n + j]) - ref) / (abs(ref) + 1e-3 * scale + 1e-30))
        }
        return worst
    }
}
