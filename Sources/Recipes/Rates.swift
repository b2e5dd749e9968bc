import Tensor

/// Throughputs for `saro run --dry-run`'s time estimates, in tokens per second.
///
/// The reference figures come from a real run of the default recipe (SmolLM2-135M, 2 cores,
/// 2026-11-30): each stage's seconds in stages.json against the tokens the plan counts for it
/// (207,040 decoded in 29 min, 358,000 trained in 37 min; the plan then matched the 66 min the
/// stages took). A model of another size scales them by its parameter count (the work per token
/// of decoding and training is about proportional to it), and another machine by its own sgemm
/// speed against the reference machine's at the same shape, since both training and batched
/// decoding spend most of their time in matrix products.
public struct Rates: Sendable, Equatable {
    public var decode: Double
    public var train: Double
    /// This machine's sgemm speed at `gemmShape` (GFLOP/s), the one the rates were scaled by.
    public var gflops: Double

    static let referenceDecode = 118.0, referenceTrain = 162.0
    static let referenceParameters = 135e6
    /// sgemm at `gemmShape` on the reference machine (oneDNN, 2 threads, idle; `saro bench gemm
    /// --shapes 512x1536x576` gave 119-129).
    static let referenceGflops = 125.0
    /// A training-sized product: 512 tokens x width 576 x MLP width 1536 (SmolLM2-135M).
    static let gemmShape = (m: 512, n: 1536, k: 576)

    public static func estimate(parameters: Double, gflops: Double) -> Rates {
        // A failed or absurd measurement falls back to the reference machine's speed.
        let machine = gflops.isFinite && gflops > 0 ? min(max(gflops / referenceGflops, 0.1), 20) : 1
        let model = referenceParameters / max(parameters, 1e6)
        return Rates(decode: referenceDecode * model * machine, train: referenceTrain * model * machine, gflops: gflops)
    }

    /// sgemm GFLOP/s at `gemmShape` with the BLAS the trainer uses: best of five calls, about
    /// 50 ms.
    public static func measureGflops() -> Double {
        GemmBenchmark.run(m: gemmShape.m, n: gemmShape.n, k: gemmShape.k, runs: 5).gflops
    }
}
