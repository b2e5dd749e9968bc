import Foundation
import Models
import Support
import Tokenizers
import Training

public enum TRLError: Error, CustomStringConvertible {
    case noPython(String)
    case notAFolder(String)
    case failed(status: Int32, log: String, reason: String)

    public var description: String {
        switch self {
        case .noPython(let p):
            return "no Python environment for TRL at \(p): make it with scripts/setup-trl.sh (or name another with trainer.python)"
        case .notAFolder(let m):
            return "TRL trains a Hugging Face model folder (config.json, safetensors, tokenizer); \(m) is not one (save it as a folder with `saro model export`)"
        case .failed(let s, let log, let reason):
            return "the TRL run exited with status \(s)\(reason.isEmpty ? "" : ": \(reason)") (its output is in \(log))"
        }
    }
}

/// How a TRL stage is launched: the Python that has torch, transformers, peft, trl and
/// accelerate (`scripts/setup-trl.sh` makes one), and an Accelerate config file (DeepSpeed
/// ZeRO-3, FSDP, several GPUs or nodes) or none: one process on this machine.
public struct TRLLauncher: Codable, Sendable, Equatable {
    public var python: String
    public var accelerateConfig: String?

    public init(python: String? = nil, accelerateConfig: String? = nil) {
        self.python = python ?? Self.defaultPython; self.accelerateConfig = accelerateConfig
    }

    /// The environment scripts/setup-trl.sh makes: trl-venv in saro's cache folder.
    public static var defaultPython: String { ModelStore.cacheDirectory.appendingPathComponent("trl-venv/bin/python").path }

    /// The shell command that runs `script` on `stageFile`.
    func command(script: String, stageFile: String) -> String {
        let launch = accelerateConfig.map { ["--config_file", $0] } ?? ["--num_processes", "1", "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
        return ([python, "-m", "accelerate.commands.launch"] + launch + [script, stageFile]).map(ChildProcess.quote).joined(separator: " ")
    }
}

/// One training stage run by TRL instead of saro's trainer, from the same data and options.
///
/// saro reads and renders the data exactly as its own trainer does (the same chat template,
/// truncation, held-out split and step plan) and writes the rows already tokenized, in the
/// order its trainer would visit them; the shipped script (`trl_train.py`) trains on them in
/// that order with SFTTrainer or DPOTrainer and PEFT LoRA, under `accelerate launch`. Its
/// progress comes back as events that become saro's `TrainingEvent`s and `metrics.jsonl` rows
/// under saro's names; the adapter lands in the output folder as saro's trainer leaves it, so
/// later stages read it the same way. Run again after a kill, TRL resumes from its newest
/// checkpoint (in `trl/` inside the output folder).
public struct TRLStage {
    public var kind: TrainingSession.Kind
    public var model: String
    public var data: String
    public var evalData: String?
    /// A chat template name (auto, chatml, llama3, mistral); nil: the tokenizer's own.
    public var chatTemplate: String?
    public var options: TrainingOptions
    public var outputDirectory: URL
    public var launcher: TRLLauncher
    /// Where the launcher's output goes (default: trl/train.log in the output folder).
    public var logPath: String?

    public init(kind: TrainingSession.Kind, model: String, data: String, evalData: String? = nil, chatTemplate: String? = nil,
                options: TrainingOptions, outputDirectory: URL, launcher: TRLLauncher, logPath: String? = nil) {
        self.kind = kind; self.model = model; self.data = data; self.evalData = evalData; self.chatTemplate = chatTemplate
        self.options = options; self.outputDirectory = outputDirectory; self.launcher = launcher; self.logPath = logPath
    }

    var work: URL { outputDirectory.appendingPathComponent("trl") }

    /// The rows written for TRL and the step plan they follow.
    struct Prepared {
        /// The model's folder.
        var model: URL
        var train: [String]
        var eval: [String]
        var plan: StepPlan
        var padToken: Int
        /// What reading the data found (examples cut to max_length, dropped).
        var report: DatasetReader.Report
        /// LoRA's target modules as the model's architecture names them.
        var loraTargets: [String]
    }

    /// The recipe's LoRA targets in the model's own module names (Phi-3's fused qkv_proj for
    /// q_proj, k_proj and v_proj), when saro knows its `model_type`; TRL trains architectures
    /// saro's engine does not run, and their targets go to PEFT as written.
    static func loraTargets(_ options: TrainingOptions, modelFolder: URL) throws -> [String] {
        struct ModelType: Decodable { var model_type: String? }
        let data = try Data(contentsOf: modelFolder.appendingPathComponent("config.json"))
        guard let type = (try? JSONDecoder().decode(ModelType.self, from: data))?.model_type, let architecture = Architectures.named(type) else {
            return options.loraTargets
        }
        return try options.lora.resolvedTargets(architecture)
    }

    /// Reads and renders the data as saro's trainer does; one JSON line per row.
    func prepare() throws -> Prepared {
        try options.validate()
        let url = try ModelStore.resolve(model)
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.appendingPathComponent("config.json").path, isDirectory: &isDir), !isDir.boolValue else {
            throw TRLError.notAFolder(model)
        }
        let tokenizer = try PretrainedModel.loadTokenizer(url.path)
        let reader = DatasetReader(tokenizer: tokenizer, template: try ChatTemplate.resolve(name: chatTemplate, tokenizer: tokenizer), maxLength: options.maxLength)
        let pad = tokenizer.padTokenId ?? tokenizer.eosTokenId ?? 0
        let targets = try Self.loraTargets(options, modelFolder: url)
        func line(_ object: [String: Any]) throws -> String {
            String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
        }
        func ordered<T>(_ train: [T], lengths: [Int], row: (T) throws -> String) throws -> (rows: [String], plan: StepPlan) {
            let plan = StepPlan(lengths: lengths, options: options)
            let rows = try (0..<plan.totalSteps).flatMap { step in try plan.microBatches(forStep: step).joined().map { try row(train[$0]) } }
            return (rows, plan)
        }
        switch kind {
        case .sft:
            let (train, held, report) = try DatasetReader.split(reader.readSFT, data: data, evalData: evalData, options: options)
            let row = { (e: SFTExample) in try line(["input_ids": e.ids, "labels": zip(e.ids, e.mask).map { $1 ? $0 : -100 }]) }
            let (rows, plan) = try ordered(train, lengths: train.map(\.tokens), row: row)
            return Prepared(model: url, train: rows, eval: try held.map(row), plan: plan, padToken: pad, report: report, loraTargets: targets)
        case .dpo:
            let (train, held, report) = try DatasetReader.split(reader.readPreferences, data: data, evalData: evalData, options: options)
            let row = { (e: PreferenceExample) in try line(["prompt_ids": e.prompt, "chosen_ids": e.chosen, "rejected_ids": e.rejected]) }
            let (rows, plan) = try ordered(train, lengths: train.map(\.tokens), row: row)
            return Prepared(model: url, train: rows, eval: try held.map(row), plan: plan, padToken: pad, report: report, loraTargets: targets)
        }
    }

    /// Writes the stage's files and runs TRL to the end, resuming from its newest checkpoint
    /// when `resume` is set; without it, another run's checkpoints in the folder are an error
    /// (as with saro's trainer) rather than mixed into this one.
    public func run(resume: Bool = true, log: @escaping (String) -> Void = { _ in }, onEvent: @escaping (TrainingEvent) -> Void = { _ in }) async throws {
        guard FileManager.default.isExecutableFile(atPath: launcher.python) else { throw TRLError.noPython(launcher.python) }
        if !resume, let newest = Trainer.checkpointSteps(in: work).max() {
            throw TrainingError.existingRun("\(work.path) holds another run's checkpoint-\(newest): pass --resume to continue it, or choose an empty --out")
        }
        let prepared = try prepare()
        prepared.report.truncationWarning(maxLength: options.maxLength).map(log)
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        func write(_ rows: [String], _ name: String) throws -> String {
            let file = work.appendingPathComponent(name).path
            try AtomicFile.write(Data(rows.map { $0 + "\n" }.joined().utf8), to: file)
            return file
        }
        let trainFile = try write(prepared.train, "train.jsonl")
        let evalFile = prepared.eval.isEmpty ? nil : try write(prepared.eval, "eval.jsonl")
        let script = work.appendingPathComponent("trl_train.py").path
        try AtomicFile.write(Data(contentsOf: URL(fileURLWithPath: try TRLResources.path("trl_train.py"))), to: script)
        let events = work.appendingPathComponent("events.jsonl").path
        let stage: [String: Any] = [
            "kind": kind.rawValue, "model": prepared.model.path, "train_file": trainFile, "eval_file": evalFile ?? NSNull(),
            "output_dir": work.path, "final_dir": outputDirectory.path, "events_file": events, "pad_token_id": prepared.padToken,
            "lora": TRLConfig.lora(options, targets: prepared.loraTargets) ?? NSNull(), "args": TRLConfig.arguments(options, kind: kind),
        ]
        let stageFile = work.appendingPathComponent("stage.json").path
        try AtomicFile.write(try JSONSerialization.data(withJSONObject: stage, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]), to: stageFile)
        try AtomicFile.write(Data(), to: events)
        let logPath = self.logPath ?? work.appendingPathComponent("train.log").path
        let command = launcher.command(script: script, stageFile: stageFile)
        log("TRL: \(command) (output in \(logPath))")
        let process = try ChildProcess(command: command, logPath: logPath, environment: ["PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false"])
        var follower = TRLEventFollower(path: events, plan: prepared.plan, metrics: outputDirectory.appendingPathComponent("metrics.jsonl"),
                                        examples: prepared.train.count)
        do {
            while true {
                let status = process.exited()
                try follower.poll(log: log, onEvent: onEvent)
                if let status {
                    guard status == 0, follower.ended else {
                        throw TRLError.failed(status: status, log: logPath, reason: Self.reason(logPath: logPath, tail: process.logTail()))
                    }
                    break
                }
                try await Task.sleep(nanoseconds: 200_000_000)
            }
        } catch {
            process.stop()
            throw error
        }
        onEvent(.finished(path: outputDirectory.path))
    }

    /// The script's own message when it gave one (missing or old packages), else the first
    /// Python exception in the log (the training script's; `accelerate launch` adds its own
    /// after it), else the log's last lines.
    static func reason(logPath: String, tail: String) -> String {
        let lines = ((FileManager.default.contents(atPath: logPath)).map { String(decoding: $0, as: UTF8.self) } ?? "").split(separator: "\n")
        if let own = lines.last(where: { $0.hasPrefix("trl_train: ") }) { return String(own.dropFirst("trl_train: ".count)) }
        if let exception = lines.first(where: { $0.wholeMatch(of: #/[A-Za-z_.]*(Error|Exception|Interrupt): .*/#) != nil }) { return String(exception) }
        return tail
    }
}

enum TRLResources {
    static func path(_ relative: String) throws -> String {
        try ResourceBundle.locate("saro_TRLBridge.resources").path("Resources/" + relative)
    }
}
