import Foundation
import Models
import Support

/// Hyper-parameters of a training run, named as TRL users know them. The same names (with
/// dashes or underscores) are accepted in a YAML config file; an unknown key is an error.
public struct TrainingOptions: Codable, Sendable, Equatable, ConfigKeyed {
    public var epochs: Double = 1
    /// Stop after this many optimizer steps (overrides epochs when > 0).
    public var maxSteps: Int = 0
    public var batchSize: Int = 4
    public var gradAccum: Int = 1
    public var lr: Double = 2e-4
    public var warmupRatio: Double = 0
    public var lrSchedule: LRSchedule = .linear
    public var weightDecay: Double = 0
    public var maxGradNorm: Double = 1
    public var maxLength: Int = 1024
    public var seed: UInt64 = 42
    public var loggingSteps: Int = 10
    /// Checkpoint every N steps (0: only at the end).
    public var saveSteps: Int = 0
    public var saveTotalLimit: Int = 2
    /// Evaluate every N steps on the held-out split (0: only at the end, if there is one).
    public var evalSteps: Int = 0
    /// Fraction of the data held out for validation when no eval file is given.
    public var evalSplit: Double = 0
    /// Full fine-tuning instead of LoRA.
    public var full: Bool = false
    public var loraRank: Int = 16
    public var loraAlpha: Double = 32
    public var loraDropout: Double = 0.05
    public var loraTargets: [String] = LoRAConfig.allLinear
    /// Recompute each decoder layer in the backward pass instead of keeping its activations
    /// (TRL's gradient_checkpointing): the same numbers in a fraction of the memory, for about
    /// a third more compute. Optional so that settings written without it read the same.
    public var gradientCheckpointing: Bool?
    // DPO
    public var beta: Double = 0.1
    /// One loss or TRL 1.x's list of them (`[sigmoid, sft]`), weighted by `loss_weights`.
    public var lossType = DPOLossTypes([.sigmoid])
    /// One weight per loss type (nil: 1 each). Optional so that settings without it read the same.
    public var lossWeights: [Double]?
    public var labelSmoothing: Double = 0
    /// Weight of the NLL term on the chosen response (TRL's rpo_alpha); 0 turns it off.
    public var rpoAlpha: Double = 0

    public init() {}

    /// The config-file keys: TRL's names, the same as the JSON keys.
    public static var keys: [String] { CodingKeys.allCases.map(\.stringValue) }

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case epochs, maxSteps = "max_steps", batchSize = "batch_size", gradAccum = "grad_accum", lr, warmupRatio = "warmup_ratio"
        case lrSchedule = "lr_schedule", weightDecay = "weight_decay", maxGradNorm = "max_grad_norm", maxLength = "max_length", seed
        case loggingSteps = "logging_steps", saveSteps = "save_steps", saveTotalLimit = "save_total_limit", evalSteps = "eval_steps"
        case evalSplit = "eval_split", full, loraRank = "lora_rank", loraAlpha = "lora_alpha", loraDropout = "lora_dropout"
        case loraTargets = "lora_targets", gradientCheckpointing = "gradient_checkpointing", beta, lossType = "loss_type", lossWeights = "loss_weights"
        case labelSmoothing = "label_smoothing", rpoAlpha = "rpo_alpha"
    }

    public var lora: LoRAConfig { LoRAConfig(rank: loraRank, alpha: loraAlpha, dropout: loraDropout, targetModules: loraTargets) }
    public var dpo: DPOLossConfig {
        DPOLossConfig(beta: beta, lossTypes: lossType.types, lossWeights: lossWeights ?? [], labelSmoothing: labelSmoothing, rpoAlpha: rpoAlpha)
    }

    /// Checks ranges; the message names the option.
    public func validate() throws {
        func bad(_ s: String) -> Error { TrainingError.invalidOption(s) }
        // NaN fails every range test below only when it is written as "must be in range".
        for (name, v) in [("epochs", epochs), ("lr", lr), ("warmup_ratio", warmupRatio), ("weight_decay", weightDecay),
                          ("max_grad_norm", maxGradNorm), ("eval_split", evalSplit), ("lora_alpha", loraAlpha), ("lora_dropout", loraDropout),
                          ("beta", beta), ("label_smoothing", labelSmoothing), ("rpo_alpha", rpoAlpha)] where !v.isFinite {
            throw bad("\(name) must be a finite number, got \(v)")
        }
        if maxSteps < 0 { throw bad("max_steps must be 0 (train by epochs) or more, got \(maxSteps)") }
        if epochs < 0 { throw bad("epochs must be 0 or more") }
        if loggingSteps < 1 { throw bad("logging_steps must be at least 1") }
        if saveSteps < 0 || evalSteps < 0 { throw bad("save_steps and eval_steps must be 0 or more") }
        if saveTotalLimit < 0 { throw bad("save_total_limit must be 0 (keep every checkpoint) or more") }
        if weightDecay < 0 { throw bad("weight_decay must be 0 or more") }
        if maxGradNorm < 0 { throw bad("max_grad_norm must be 0 (no clipping) or more") }
        if loraAlpha <= 0 && !full { throw bad("lora_alpha must be positive") }
        if rpoAlpha < 0 { throw bad("rpo_alpha must be 0 or more") }
        if batchSize < 1 { throw bad("batch_size must be at least 1") }
        if gradAccum < 1 { throw bad("grad_accum must be at least 1") }
        if lr <= 0 { throw bad("lr must be positive") }
        if !(0..<1).contains(warmupRatio) { throw bad("warmup_ratio must be in [0, 1)") }
        if maxLength < 2 { throw bad("max_length must be at least 2") }
        if loraRank < 1 && !full { throw bad("lora_rank must be at least 1") }
        if !(0..<1).contains(loraDropout) { throw bad("lora_dropout must be in [0, 1)") }
        if !(0..<1).contains(evalSplit) { throw bad("eval_split must be in [0, 1)") }
        if beta <= 0 { throw bad("beta must be positive") }
        if !(0..<0.5).contains(labelSmoothing) { throw bad("label_smoothing must be in [0, 0.5)") }
        if epochs <= 0 && maxSteps <= 0 { throw bad("give epochs > 0 or max_steps > 0") }
        if let w = lossWeights {
            if w.count != lossType.types.count { throw bad("loss_weights has \(w.count) weights for \(lossType.types.count) loss types") }
            if w.contains(where: { !$0.isFinite || $0 < 0 }) { throw bad("loss_weights must be finite numbers >= 0") }
        }
    }
}

public enum TrainingError: Error, CustomStringConvertible {
    case invalidOption(String)
    case unknownConfigKeys(file: String, keys: [String])
    case badConfig(file: String, reason: String)
    case noCheckpoint(String)
    case mismatchedCheckpoint(String)
    case existingRun(String)

    public var description: String {
        switch self {
        case .invalidOption(let s): return "invalid option: \(s)"
        case .unknownConfigKeys(let f, let k): return "\(f): unknown key\(k.count > 1 ? "s" : "") \(k.joined(separator: ", ")) (known: \(TrainingOptions.keys.joined(separator: ", ")))"
        case .badConfig(let f, let r): return "\(f): \(r)"
        case .noCheckpoint(let d): return "\(d): no checkpoint to resume from"
        case .mismatchedCheckpoint(let r): return "cannot resume: \(r)"
        case .existingRun(let r): return r
        }
    }
}
