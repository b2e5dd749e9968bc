import Foundation
import Training

/// saro's training options as TRL and PEFT name them: the `args` of SFTConfig / DPOConfig and
/// the arguments of PEFT's LoraConfig, as the stage file gives them to the training script.
public enum TRLConfig {
    /// SFTConfig / DPOConfig arguments. `max_steps` is left to the script: saro lays out every
    /// step's rows in order, and the script divides them by the batch of all its processes.
    public static func arguments(_ o: TrainingOptions, kind: TrainingSession.Kind) -> [String: Any] {
        var args: [String: Any] = [
            "num_train_epochs": 1,
            "per_device_train_batch_size": o.batchSize,
            "per_device_eval_batch_size": o.batchSize,
            "gradient_accumulation_steps": o.gradAccum,
            "learning_rate": o.lr,
            "lr_scheduler_type": o.lrSchedule.rawValue,
            // transformers reads a value below 1 as a fraction of the steps, rounded up, as saro does.
            "warmup_steps": o.warmupRatio,
            "weight_decay": o.weightDecay,
            // transformers' 0 means no clipping too.
            "max_grad_norm": o.maxGradNorm,
            "max_length": o.maxLength,
            "seed": Int(truncatingIfNeeded: o.seed),
            "logging_steps": o.loggingSteps,
            "save_steps": o.saveSteps,
            "save_total_limit": o.saveTotalLimit,
            "eval_steps": o.evalSteps,
        ]
        if o.saveTotalLimit == 0 { args["save_total_limit"] = NSNull() }
        if o.gradientCheckpointing == true { args["gradient_checkpointing"] = true }
        if kind == .dpo {
            args["beta"] = o.beta
            // TRL 1.x's list of losses with weights; the RPO term (rpo_alpha) is its "sft" loss.
            let terms = o.dpo.terms
            args["loss_type"] = terms.map(\.type.rawValue)
            args["loss_weights"] = terms.map(\.weight)
            args["label_smoothing"] = o.labelSmoothing
            // As saro's trainer: the reference log-probs once, before the first step.
            args["precompute_ref_log_probs"] = true
        }
        return args
    }

    /// PEFT LoraConfig arguments, or nil for full fine-tuning. `targets`: the target modules
    /// as the model names them (`TRLStage.loraTargets`).
    public static func lora(_ o: TrainingOptions, targets: [String]) -> [String: Any]? {
        guard !o.full else { return nil }
        return ["r": o.loraRank, "lora_alpha": o.loraAlpha, "lora_dropout": o.loraDropout, "target_modules": targets]
    }
}
