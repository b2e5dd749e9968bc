import Foundation
import Support
import Models
import Tensor
import Training

/// Throughputs for `saro run --dry-run`'s time estimates, in tokens per second.
///
/// Measured on this machine with the recipe's own model where it can be loaded: a few decoding
/// steps of a batch in lanes (as sampling and evaluation decode; models made from the base,
/// such as the RW model, decode as the base with adapters, see `Pipeline.engine`), and one LoRA
/// SFT step at the recipe's rank and checkpointing. That takes a few seconds and follows this
/// machine's speed today, kernel changes and the model's size, where rates scaled from an old
/// run by an sgemm timing missed all three.
///
/// Where the model is not on this machine yet (a GPU recipe's plan, a random model a stage will
/// make), the rates are the reference run's, scaled by parameter count and by this machine's
/// sgemm speed against the reference machine's.
public struct Rates: Sendable, Equatable {
    /// Batched decoding of the base model as loaded (from its blocks where it is a GGUF), and
    /// of the same with a LoRA adapter folded in (every model the method trains).
    public var decode: Double
    public var decodeAdapted: Double
    /// Positions run forward without decoding: prompts' prefill, scoring, hidden states.
    public var prefill: Double
    /// LoRA SFT tokens per second (forward, backward and update).
    public var train: Double
    /// How the rates were obtained, for the plan's last line.
    public var source: String

    public init(decode: Double, decodeAdapted: Double, prefill: Double, train: Double, source: String) {
        self.decode = decode; self.decodeAdapted = decodeAdapted; self.prefill = prefill; self.train = train; self.source = source
    }

    /// The reference run's rates; prefill there was about five times decoding (`saro bench
    /// generate`, 2026-12-01).
    static let referenceDecode = 118.0, referencePrefill = 590.0, referenceTrain = 162.0
    static let referenceParameters = 135e6
    /// sgemm at `gemmShape` on the reference machine (oneDNN, 2 threads, idle; `saro bench gemm
    /// --shapes 512x1536x576` gave 119-129).
    static let referenceGflops = 125.0
    /// A training-sized product: 512 tokens x width 576 x MLP width 1536 (SmolLM2-135M).
    static let gemmShape = (m: 512, n: 1536, k: 576)

    /// The fallback: the reference run's rates scaled by model size and sgemm speed.
    public static func estimate(parameters: Double, gflops: Double) -> Rates {
        // A failed or absurd measurement falls back to the reference machine's speed.
        let machine = gflops.isFinite && gflops > 0 ? min(max(gflops / referenceGflops, 0.1), 20) : 1
        let model = referenceParameters / max(parameters, 1e6)
        return Rates(decode: referenceDecode * model * machine, decodeAdapted: referenceDecode * model * machine, prefill: referencePrefill * model * machine, train: referenceTrain * model * machine,
                     source: String(format: "scaled from the reference run by this machine's sgemm speed, %.0f GFLOP/s", gflops))
    }

    /// sgemm GFLOP/s at `gemmShape` with the BLAS the trainer uses: best of five calls, about
    /// 50 ms.
    public static func measureGflops() -> Double {
        GemmBenchmark.run(m: gemmShape.m, n: gemmShape.n, k: gemmShape.k, runs: 5).gflops
    }

    /// Sizes of the measurement: the stages' batch decoding `decodeTokens` tokens after
    /// `promptTokens` (in their lanes), a prefill of `trainBatch` x `trainLength` positions, and
    /// an SFT step of that shape (after a warm-up step).
    static let decodeTokens = 8, promptTokens = 32, trainBatch = 2, trainLength = 256

    /// Rates measured with `loaded` on this machine: decoding at `batch` rows, training with
    /// LoRA rank `rank`, with or without gradient checkpointing.
    public static func measure(loaded: PretrainedModel, batch: Int, rank: Int, gradientCheckpointing: Bool) throws -> Rates {
        let t0 = MonotonicClock.seconds(), cpu0 = ProcessCPUClock.seconds()
        let lanes = Parallel.laneCount(items: batch)
        let model = try loaded.makeModel()
        let decode = GenerationBenchmark.decodeRate(model: model, batch: batch, lanes: lanes, promptLength: promptTokens, newTokens: decodeTokens)
        // A trained model decodes with its adapter folded in: on a GGUF base its projections are
        // Q8_0 blocks instead of the file's.
        let adapters = try LoRAAdapters(config: LoRAConfig(rank: rank, alpha: Double(2 * rank), dropout: 0), model: model, seed: 1)
        let decodeAdapted = loaded.quantized.isEmpty ? decode
            : GenerationBenchmark.decodeRate(model: try loaded.folded(adapters), batch: batch, lanes: lanes, promptLength: promptTokens, newTokens: decodeTokens)
        let length = min(trainLength, loaded.config.maxPositionEmbeddings)
        let prefill = GenerationBenchmark.prefillRate(model: model, batch: trainBatch, length: length)
        let train = try TrainingBenchmark.run(loaded: loaded, batch: trainBatch, length: length,
                                              rank: rank, steps: 1, dpoPairs: 0, gradientCheckpointing: gradientCheckpointing).sft_tokens_per_second
        let wall = MonotonicClock.seconds() - t0
        let shared = sharedCoresNote(cpuSeconds: ProcessCPUClock.seconds() - cpu0, wallSeconds: wall, cores: Parallel.threads)
        return Rates(decode: decode, decodeAdapted: decodeAdapted, prefill: prefill, train: train,
                     source: String(format: "measured here with the recipe's model in %.0f s", wall) + (shared.map { "; " + $0 } ?? ""))
    }

    /// A warning for the plan when the measurement had under 70% of the cores it runs on
    /// (another busy program took the rest): its rates are then low and the estimate long.
    /// Nil when it had them.
    public static func sharedCoresNote(cpuSeconds: Double, wallSeconds: Double, cores: Int) -> String? {
        guard wallSeconds > 0, cores > 0 else { return nil }
        let share = cpuSeconds / (wallSeconds * Double(cores))
        guard share < 0.7 else { return nil }
        return String(format: "saro had %.0f%% of its %d cores while measuring (other programs were busy), so these rates read low and the estimate long",
                      100 * share, cores)
    }
}
