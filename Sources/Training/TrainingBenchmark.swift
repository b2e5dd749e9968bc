import Support
import Foundation
import Models
import Tensor

/// Training throughput: LoRA SFT steps (forward, backward, AdamW) on random token sequences,
/// and DPO steps on random pairs, on a real model, through the trainer's step (`GradientStep`).
public enum TrainingBenchmark {
    public struct Result: Codable, Sendable {
        public var sft_tokens_per_second: Double
        public var sft_seconds_per_step: Double
        public var dpo_pairs_per_second: Double
        public var dpo_seconds_per_step: Double
        public var batch_size: Int
        public var sequence_length: Int
        public var lora_rank: Int
        public var steps: Int
        public var peak_resident_megabytes: Double
        public var gradient_checkpointing: Bool
    }

    /// `gradientCheckpointing`: recompute each layer in the backward pass. The peak is this
    /// run's own (memory freed before it is returned to the system first).
    public static func run(loaded: PretrainedModel, batch: Int = 4, length: Int = 512, rank: Int = 16, steps: Int = 3, dpoPairs: Int = 2,
                           gradientCheckpointing: Bool = false) throws -> Result {
        FreedMemory.release()
        ResidentMemory.resetPeak()
        let model = try loaded.makeModel()
        model.gradientCheckpointing = gradientCheckpointing
        var options = TrainingOptions()
        options.loraRank = rank; options.loraAlpha = Double(2 * rank); options.loraDropout = 0
        let adapters = try LoRAAdapters(config: options.lora, model: model, seed: 1)
        model.lora = adapters
        var rng = SplitMix64(seed: 7)
        let vocab = loaded.config.vocabSize
        func tokens(_ n: Int) -> [Int] { (0..<n).map { _ in Int(rng.next() % UInt64(vocab)) } }
        let optimizer = AdamW()

        func timeSteps(_ objective: TrainingObjective, _ indices: [Int]) -> Double {
            var best = Double.infinity
            for i in 0...steps {
                let t0 = MonotonicClock.seconds()
                // The trainer's own step: its lanes, its split of the batch.
                _ = GradientStep.run(model: model, trainable: adapters.parameters, objective: objective, microBatches: [indices],
                                     normalizer: objective.stepNormalizer(indices))
                optimizer.update(adapters.parameters, lr: 1e-4)
                for p in adapters.parameters.values { p.zeroGrad() }
                if i > 0 { best = min(best, MonotonicClock.seconds() - t0) }   // the first step warms up
            }
            return best
        }
        let sft = SFTObjective(examples: (0..<batch).map { _ in SFTExample(ids: tokens(length), mask: [Bool](repeating: true, count: length)) }, padToken: 0)
        let sftSeconds = timeSteps(sft, Array(0..<batch))
        // No pairs: SFT only (DPO's figures 0).
        var dpoSeconds = 0.0
        if dpoPairs > 0 {
            let half = length / 2
            let pairs = (0..<dpoPairs).map { _ in PreferenceExample(prompt: tokens(half), chosen: tokens(half), rejected: tokens(half)) }
            let dpo = DPOObjective(examples: pairs, config: DPOLossConfig(), reference: [Float](repeating: -1000, count: 2 * dpoPairs), padToken: 0)
            dpoSeconds = timeSteps(dpo, Array(0..<dpoPairs))
        }
        return Result(sft_tokens_per_second: Double(batch * length) / sftSeconds, sft_seconds_per_step: sftSeconds,
                      dpo_pairs_per_second: dpoPairs > 0 ? Double(dpoPairs) / dpoSeconds : 0, dpo_seconds_per_step: dpoSeconds,
                      batch_size: batch, sequence_length: length, lora_rank: rank, steps: steps,
                      peak_resident_megabytes: ResidentMemory.peakMegabytes(), gradient_checkpointing: gradientCheckpointing)
    }
}
