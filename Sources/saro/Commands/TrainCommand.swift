import ArgumentParser
import Foundation
import Models
import Recipes
import Support
import TRLBridge
import Training
import Yams

struct TrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Fine-tune a model: SFT (the reasoning-style warmup) or DPO (reasoning preference optimization).",
        subcommands: [SFT.self, DPO.self])

    struct SFT: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sft",
            abstract: "Supervised fine-tuning on conversations.",
            discussion: """
                Data: JSONL with TRL's fields, {"messages": [{"role", "content"}, ...]} or \
                {"prompt": ..., "completion": ...}. The loss is the mean negative log-likelihood of \
                the assistant tokens (including the end-of-turn token). LoRA by default (adapters in \
                PEFT's layout); --full trains every weight and saves a Hugging Face model.
                """)
        @OptionGroup var common: TrainOptions
        func run() async throws { try await common.run(.sft) }
    }

    struct DPO: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "dpo",
            abstract: "Direct preference optimization on (prompt, chosen, rejected) pairs.",
            discussion: """
                Data: JSONL with TRL's fields {"prompt", "chosen", "rejected"} (strings or message \
                lists; a prompt may end with a partial assistant turn that both completions continue). \
                The reference policy is the starting model; its log-probs are computed once and cached \
                in the output folder. Losses as TRL 1.x names them: sigmoid (default), hinge, ipo, \
                robust, sigmoid_norm, apo_zero and sft, one or a list with --loss-weights \
                (--loss-type sigmoid,sft --loss-weights 1,0.5); --label-smoothing gives conservative \
                DPO (and robust's noise rate), --rpo-alpha adds an NLL term on the chosen response.
                """)
        @OptionGroup var common: TrainOptions
        func run() async throws { try await common.run(.dpo) }
    }
}

/// The options of `saro train sft` and `saro train dpo`. Each may also come from --config
/// (YAML, same names with dashes or underscores); flags given on the command line win.
struct TrainOptions: ParsableArguments {
    @Option(help: "YAML file with any of these options.") var config: String?
    @Option(help: "Base model (name, folder or .gguf).") var model: String?
    @Option(help: "Training data (JSONL).") var data: String?
    @Option(help: "Validation data (JSONL); else --eval-split of the data is held out.") var evalData: String?
    @Option(help: "Output folder.") var out: String?
    @Option(help: "Chat template: auto (the model's own), a Jinja template file, or the built-in chatml, llama3 or mistral.") var chatTemplate: String?
    @Option(help: "Training epochs.") var epochs: Double?
    @Option(help: "Stop after this many optimizer steps (overrides --epochs).") var maxSteps: Int?
    @Option(help: "Sequences (or pairs) per micro-batch.") var batchSize: Int?
    @Option(help: "Micro-batches per optimizer step.") var gradAccum: Int?
    @Option(help: "Peak learning rate.") var lr: Double?
    @Option(help: "Fraction of steps of linear warmup.") var warmupRatio: Double?
    @Option(help: "constant, linear or cosine.") var lrSchedule: String?
    @Option(help: "AdamW decoupled weight decay.") var weightDecay: Double?
    @Option(help: "Clip gradients to this global norm (0: off).") var maxGradNorm: Double?
    @Option(help: "Truncate examples to this many tokens.") var maxLength: Int?
    @Option(help: "Random seed (data order, LoRA init, dropout).") var seed: UInt64?
    @Option(help: "Write metrics every N steps.") var loggingSteps: Int?
    @Option(help: "Checkpoint every N steps (0: at the end only).") var saveSteps: Int?
    @Option(help: "Keep at most this many checkpoints.") var saveTotalLimit: Int?
    @Option(help: "Validate every N steps (0: at the end).") var evalSteps: Int?
    @Option(help: "Fraction of the data held out for validation.") var evalSplit: Double?
    @Flag(help: "Full fine-tuning instead of LoRA.") var full = false
    @Option(help: "LoRA rank.") var loraRank: Int?
    @Option(help: "LoRA alpha.") var loraAlpha: Double?
    @Option(help: "LoRA dropout.") var loraDropout: Double?
    @Option(help: "LoRA target modules, comma-separated (q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj, or all-linear; Phi-3's fused qkv_proj and gate_up_proj stand for their parts).") var loraTargets: String?
    @Flag(help: "Recompute each layer in the backward pass instead of keeping its activations: the same training in far less memory, about a third slower.") var gradientCheckpointing = false
    @Option(help: "DPO beta.") var beta: Double?
    @Option(help: "DPO loss, or TRL 1.x's comma-separated list: sigmoid, hinge, ipo, robust, sigmoid_norm, apo_zero, sft.") var lossType: String?
    @Option(help: "Weights of the loss types, comma-separated (default 1 each).") var lossWeights: String?
    @Option(help: "DPO label smoothing (conservative DPO).") var labelSmoothing: Double?
    @Option(help: "Weight of an NLL term on the chosen response (TRL's rpo_alpha).") var rpoAlpha: Double?
    @Flag(help: "Continue from the newest checkpoint in --out.") var resume = false
    @Option(help: ArgumentHelp("saro (its own trainer) or trl: TRL's SFTTrainer/DPOTrainer with PEFT under `accelerate launch`, on the data saro renders, in --python's environment (scripts/setup-trl.sh makes one).", valueName: "engine"))
    var engine = Recipe.Trainer.Kind.saro
    @Option(help: "With --engine trl: the Python with torch, transformers, peft, trl and accelerate (default: the environment setup-trl.sh makes in saro's cache).")
    var python: String?
    @Option(help: "With --engine trl: an Accelerate config file (DeepSpeed, FSDP, several GPUs); default: one process here.")
    var accelerateConfig: String?
    @Flag(help: "No progress bar.") var quiet = false

    /// The file and path settings --config may give besides the training options.
    static let pathKeys = ["model", "data", "eval_data", "out", "chat_template"]

    /// The defaults, then --config, then the flags given on the command line (`ConfigLayers`),
    /// and the path settings (model, data, eval_data, out, chat_template).
    func resolved() throws -> (TrainingOptions, [String: String]) {
        var paths: [String: String] = [:]
        var node: Node?
        if let config {
            guard let text = try? String(contentsOfFile: config, encoding: .utf8) else { throw ValidationError("\(config): cannot read the file") }
            let composed: Node?
            do { composed = try Yams.compose(yaml: text) } catch { throw ValidationError("\(config): not valid YAML: \(error)") }
            guard var m = composed?.mapping else { throw ValidationError("\(config): expected a mapping of option names to values") }
            let unknown = m.keys.compactMap(\.string).filter { !(TrainingOptions.keys + Self.pathKeys).contains($0.replacingOccurrences(of: "-", with: "_")) }
            if !unknown.isEmpty { throw TrainingError.unknownConfigKeys(file: config, keys: unknown.sorted()) }
            for k in m.keys {
                guard let name = k.string?.replacingOccurrences(of: "-", with: "_") else { continue }
                if Self.pathKeys.contains(name) { paths[name] = m[k]?.string ?? ""; m[k] = nil }
                // lora_targets may be one comma-separated string, as on the command line.
                if name == "lora_targets", let list = m[k]?.string { m[k] = .sequence(.init(list.split(separator: ",").map { Node(String($0)) })) }
            }
            node = .mapping(m)
        }
        // Keyed by the options' own CodingKeys: a flag cannot name a key the options lack.
        let flags: [TrainingOptions.CodingKeys: ConfigValue?] = [
            .epochs: epochs.map(ConfigValue.double), .maxSteps: maxSteps.map(ConfigValue.int), .batchSize: batchSize.map(ConfigValue.int),
            .gradAccum: gradAccum.map(ConfigValue.int), .lr: lr.map(ConfigValue.double), .warmupRatio: warmupRatio.map(ConfigValue.double),
            .lrSchedule: lrSchedule.map(ConfigValue.string), .weightDecay: weightDecay.map(ConfigValue.double), .maxGradNorm: maxGradNorm.map(ConfigValue.double),
            .maxLength: maxLength.map(ConfigValue.int), .seed: seed.map(ConfigValue.unsigned), .loggingSteps: loggingSteps.map(ConfigValue.int),
            .saveSteps: saveSteps.map(ConfigValue.int), .saveTotalLimit: saveTotalLimit.map(ConfigValue.int), .evalSteps: evalSteps.map(ConfigValue.int),
            .evalSplit: evalSplit.map(ConfigValue.double), .loraRank: loraRank.map(ConfigValue.int), .loraAlpha: loraAlpha.map(ConfigValue.double),
            .loraDropout: loraDropout.map(ConfigValue.double), .loraTargets: loraTargets.map { .list($0.split(separator: ",").map(String.init)) },
            .beta: beta.map(ConfigValue.double), .lossType: lossType.map { $0.contains(",") ? .list($0.split(separator: ",").map(String.init)) : .string($0) },
            .lossWeights: try lossWeights.map { text in
                .numbers(try text.split(separator: ",").map { w in
                    guard let x = Double(w) else { throw ValidationError("--loss-weights: '\(w)' is not a number") }
                    return x
                })
            }, .labelSmoothing: labelSmoothing.map(ConfigValue.double),
            .rpoAlpha: rpoAlpha.map(ConfigValue.double), .full: full ? .bool(true) : nil,
            .gradientCheckpointing: gradientCheckpointing ? .bool(true) : nil,
        ]
        for (k, v) in [("model", model), ("data", data), ("eval_data", evalData), ("out", out), ("chat_template", chatTemplate)] {
            if let v { paths[k] = v }
        }
        do {
            let options = try ConfigLayers.overlay(TrainingOptions(), node, path: config ?? "command line", section: "training options",
                                                   flags: Dictionary(uniqueKeysWithValues: flags.compactMap { k, v in v.map { (k.stringValue, $0) } }))
            try options.validate()
            return (options, paths)
        } catch let e as SourceError { throw ValidationError("\(e)") }
    }

    func run(_ kind: TrainingSession.Kind) async throws {
        let (options, paths) = try resolved()
        guard let data = paths["data"] else { throw ValidationError("--data is required (or data: in --config)") }
        guard let out = paths["out"] else { throw ValidationError("--out is required (or out: in --config)") }
        let modelName = paths["model"] ?? ModelStore.defaultModel
        let stderr = FileHandle.standardError
        if engine == .saro, python != nil || accelerateConfig != nil { throw ValidationError("--python and --accelerate-config need --engine trl") }
        let bar = ProgressBar(label: "train \(kind.rawValue)", quiet: quiet)
        if engine == .trl {
            let stage = TRLStage(kind: kind, model: modelName, data: data, evalData: paths["eval_data"], chatTemplate: paths["chat_template"],
                                 options: options, outputDirectory: URL(fileURLWithPath: out), launcher: TRLLauncher(python: python, accelerateConfig: accelerateConfig))
            try await stage.run(resume: resume, log: { stderr.write(Data("saro: \($0)\n".utf8)) }) { show($0, bar: bar) }
            return
        }
        let loaded = try PretrainedModel.load(modelName) { stderr.write(Data("saro: \($0)\n".utf8)) }
        let session = try TrainingSession(kind: kind, model: loaded, modelName: modelName, data: data, evalData: paths["eval_data"],
                                          chatTemplate: paths["chat_template"], options: options, outputDirectory: URL(fileURLWithPath: out)) {
            stderr.write(Data("saro: \($0)\n".utf8))
        }
        let r = session.report
        stderr.write(Data("saro: \(r.read) records read, \(r.truncated) truncated to \(options.maxLength) tokens, \(r.dropped) dropped; \(session.evalExamples) held out\n".utf8))
        try session.trainer.run(resume: resume) { show($0, bar: bar) }
    }

    /// A training event on the progress bar and standard error, whichever engine trains.
    func show(_ event: TrainingEvent, bar: ProgressBar) {
        let stderr = FileHandle.standardError
        switch event {
        case .started(let total, let start, let params, let examples):
            stderr.write(Data("saro: \(examples) examples, \(total) steps\(start > 0 ? ", resuming after step \(start)" : ""), \(params) trainable parameters\n".utf8))
            bar.start(total: total, done: start)
        case .step(let step, _, let loss, let tps):
            bar.update(done: step, status: String(format: "loss %.4f  %.0f tok/s", loss, tps))
        case .logged(let row):
            bar.note(row.sorted { $0.key < $1.key }.map { "\($0.key)=\(String(format: "%.4g", $0.value))" }.joined(separator: " "))
        case .evaluated(let row):
            bar.note("eval: " + row.filter { $0.key.hasPrefix("eval_") }.sorted { $0.key < $1.key }.map { "\($0.key)=\(String(format: "%.4g", $0.value))" }.joined(separator: " "))
        case .skipped(let step, let reason):
            bar.note("step \(step) skipped: \(reason)")
        case .checkpoint(_, let path):
            bar.note("checkpoint \(path)")
        case .finished(let path):
            bar.finish()
            print(path)
        }
    }
}

/// `--engine saro|trl`: the recipe's `trainer.engine` values.
extension Recipe.Trainer.Kind: ExpressibleByArgument {}
