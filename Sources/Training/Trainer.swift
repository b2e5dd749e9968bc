import Support
import Foundation
import Models
import Tensor

/// What a training run reports, step by step. The command line draws its progress bar from
/// these, the log file records them, and tests read the same stream.
public enum TrainingEvent: Sendable {
    case started(totalSteps: Int, startStep: Int, trainableParameters: Int, examples: Int)
    case step(step: Int, totalSteps: Int, loss: Double, tokensPerSecond: Double)
    case logged([String: Double])
    case evaluated([String: Double])
    case skipped(step: Int, reason: String)
    case checkpoint(step: Int, path: String)
    case finished(path: String)
}

/// The optimisation loop shared by SFT and DPO: micro-batches and gradient accumulation,
/// global-norm clipping, AdamW with a warmup schedule, skipping non-finite steps, TRL-named
/// metrics in metrics.jsonl, validation, atomic checkpoints and exact resume.
public final class Trainer {
    public let model: LlamaModel
    public let trainable: [String: Variable]
    public let objective: TrainingObjective
    public let evalObjective: TrainingObjective?
    public let options: TrainingOptions
    public let outputDirectory: URL
    /// Writes the trained model (adapter or full weights) into a folder.
    let saveModel: (URL) throws -> Void
    /// The file inside a saved folder that holds the trainable tensors under their names.
    let weightsFile: String
    let plan: StepPlan
    let optimizer: AdamW

    public init(model: LlamaModel, trainable: [String: Variable], objective: TrainingObjective, evalObjective: TrainingObjective?,
                options: TrainingOptions, outputDirectory: URL, weightsFile: String, saveModel: @escaping (URL) throws -> Void) {
        self.model = model
        self.trainable = trainable
        self.objective = objective
        self.evalObjective = evalObjective
        self.options = options
        self.outputDirectory = outputDirectory
        self.weightsFile = weightsFile
        self.saveModel = saveModel
        plan = StepPlan(lengths: (0..<objective.count).map(objective.length), options: options)
        optimizer = AdamW(weightDecay: Float(options.weightDecay))
    }

    public var totalSteps: Int { plan.totalSteps }
    var metricsURL: URL { outputDirectory.appendingPathComponent("metrics.jsonl") }

    /// Trains to the end, resuming from the newest checkpoint when `resume` is set.
    public func run(resume: Bool = false, onEvent: (TrainingEvent) -> Void = { _ in }) throws {
        try FileManager.default.createDirectory(at: outputDirectory, withIntermediateDirectories: true)
        var start = 0
        var window = MetricWindow()
        if resume {
            (start, window) = try restoreLatestCheckpoint()
        } else {
            // Another run's checkpoints would outrank this run's (the newest step wins a resume,
            // and the checkpoint limit deletes the oldest): refuse rather than mix two runs.
            if let newest = checkpoints().max() {
                throw TrainingError.existingRun("\(outputDirectory.path) holds another run's checkpoint-\(newest): pass --resume to continue it, or choose an empty --out")
            }
            try? FileManager.default.removeItem(at: metricsURL)
        }
        try MetricsLog.truncate(metricsURL, afterStep: start)
        let log = try MetricsLog(metricsURL)
        let total = plan.totalSteps
        let warmup = Int((options.warmupRatio * Double(total)).rounded(.up))
        onEvent(.started(totalSteps: total, startStep: start, trainableParameters: trainable.values.map(\.value.count).reduce(0, +), examples: objective.count))
        for step in start..<total {
            let t0 = MonotonicClock.seconds()
            let microBatches = plan.microBatches(forStep: step)
            let normalizer = objective.stepNormalizer(microBatches.flatMap { $0 })
            for p in trainable.values { p.zeroGrad() }
            let totals = GradientStep.run(model: model, trainable: trainable, objective: objective, microBatches: microBatches,
                                          normalizer: normalizer)
            let (metrics, tokens) = (totals.metrics, totals.tokens)
            let loss = metrics.loss
            let norm = GradientClipping.globalNorm(trainable)
            let seconds = MonotonicClock.seconds() - t0
            if !loss.isFinite || !norm.isFinite {
                for p in trainable.values { p.zeroGrad() }
                onEvent(.skipped(step: step + 1, reason: "non-finite \(loss.isFinite ? "gradient norm" : "loss")"))
                try log.write(["step": Double(step + 1), "skipped": 1, "epoch": plan.epoch(ofStep: step + 1)])
            } else {
                GradientClipping.clip(trainable, norm: norm, maxNorm: options.maxGradNorm)
                let lr = options.lrSchedule.rate(step: step, totalSteps: total, warmupSteps: warmup, peak: options.lr)
                optimizer.update(trainable, lr: Float(lr))
                window.add(metrics, gradNorm: norm, lr: lr, tokens: tokens, seconds: seconds)
            }
            for p in trainable.values { p.zeroGrad() }
            onEvent(.step(step: step + 1, totalSteps: total, loss: loss, tokensPerSecond: Double(tokens) / seconds))
            let done = step + 1
            if done % max(1, options.loggingSteps) == 0 || done == total, let row = window.flush(step: done, epoch: plan.epoch(ofStep: done)) {
                try log.write(row)
                onEvent(.logged(row))
            }
            if let e = evalObjective, (options.evalSteps > 0 && done % options.evalSteps == 0) || done == total {
                let row = evaluate(e, step: done)
                try log.write(row)
                onEvent(.evaluated(row))
            }
            if (options.saveSteps > 0 && done % options.saveSteps == 0) || done == total {
                let path = try saveCheckpoint(step: done, window: window)
                onEvent(.checkpoint(step: done, path: path.path))
            }
        }
        try saveModel(outputDirectory)
        onEvent(.finished(path: outputDirectory.path))
    }

    /// Mean loss and metrics on a held-out set, without gradients or dropout.
    func evaluate(_ e: TrainingObjective, step: Int) -> [String: Double] {
        var sums = BatchMetrics()
        let batches = stride(from: 0, to: e.count, by: options.batchSize).map { Array($0..<min(e.count, $0 + options.batchSize)) }
        let all = Array(0..<e.count)
        let normalizer = e.stepNormalizer(all)
        GradMode.withNoGrad {
            for b in batches {
                let (_, metrics, _) = e.loss(model: model, indices: b, normalizer: normalizer, stepIndices: all)
                sums.add(metrics)
            }
        }
        var row: [String: Double] = ["step": Double(step), "epoch": plan.epoch(ofStep: step), "eval_loss": sums.loss]
        for (k, v) in sums.pairMeans { row["eval_" + k] = v }
        return row
    }

    // MARK: checkpoints

    func checkpointURL(_ step: Int) -> URL { outputDirectory.appendingPathComponent("checkpoint-\(step)") }

    struct State: Codable {
        var step: Int
        var optimizerStep: Int
        var loraRNG: SplitMix64?
        var totalSteps: Int
        var seed: UInt64
        var examples: Int
        /// Steps since the last log line, so a resumed run logs the same averages.
        var window: MetricWindow
    }

    /// Writes checkpoint-N atomically: everything goes into a temporary folder that is renamed
    /// into place, so a checkpoint folder is always complete. Old ones beyond the limit go.
    func saveCheckpoint(step: Int, window: MetricWindow) throws -> URL {
        let final = checkpointURL(step)
        let tmp = outputDirectory.appendingPathComponent(".checkpoint-\(step).tmp-\(getpid())")
        try? FileManager.default.removeItem(at: tmp)
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
        try saveModel(tmp)
        try SafeTensorsFile.write(optimizer.stateTensors(), to: tmp.appendingPathComponent("optimizer.safetensors").path)
        let state = State(step: step, optimizerStep: optimizer.step, loraRNG: model.lora?.rng, totalSteps: plan.totalSteps, seed: options.seed,
                          examples: objective.count, window: window)
        try AtomicFile.write(try JSONEncoder().encode(state), to: tmp.appendingPathComponent("trainer_state.json").path)
        try? FileManager.default.removeItem(at: final)
        try FileManager.default.moveItem(at: tmp, to: final)
        let all = checkpoints().sorted()
        if options.saveTotalLimit > 0 && all.count > options.saveTotalLimit {
            for s in all.prefix(all.count - options.saveTotalLimit) { try? FileManager.default.removeItem(at: checkpointURL(s)) }
        }
        return final
    }

    func checkpoints() -> [Int] {
        Self.checkpointSteps(in: outputDirectory).filter { FileManager.default.fileExists(atPath: checkpointURL($0).appendingPathComponent("trainer_state.json").path) }
    }

    /// The steps of the `checkpoint-N` folders in `directory` (saro's and transformers' name for them).
    public static func checkpointSteps(in directory: URL) -> [Int] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.compactMap { n in n.hasPrefix("checkpoint-") ? Int(n.dropFirst("checkpoint-".count)) : nil }
    }

    /// Loads the newest checkpoint's weights, optimizer and random state; returns its step
    /// (0 when there is none yet, so a first run with --resume starts fresh).
    func restoreLatestCheckpoint() throws -> (Int, MetricWindow) {
        guard let step = checkpoints().max() else { return (0, MetricWindow()) }
        let dir = checkpointURL(step)
        let state = try JSONDecoder().decode(State.self, from: Data(contentsOf: dir.appendingPathComponent("trainer_state.json")))
        guard state.seed == options.seed, state.examples == objective.count, state.totalSteps == plan.totalSteps else {
            throw TrainingError.mismatchedCheckpoint("\(dir.path) was made with another seed, data size or step count (seed \(state.seed), \(state.examples) examples, \(state.totalSteps) steps)")
        }
        let weights = try SafeTensorsFile(path: dir.appendingPathComponent(weightsFile).path)
        for (name, p) in trainable {
            let t = try weights.tensor(name)
            guard t.shape == p.value.shape else { throw TrainingError.mismatchedCheckpoint("\(name) has shape \(t.shape) in the checkpoint, \(p.value.shape) in the model") }
            p.value.copyElements(from: t)
        }
        let opt = try SafeTensorsFile(path: dir.appendingPathComponent("optimizer.safetensors").path)
        optimizer.restore(step: state.optimizerStep, tensors: Dictionary(uniqueKeysWithValues: try opt.names.map { ($0, try opt.tensor($0)) }))
        if let rng = state.loraRNG { model.lora?.rng = rng }
        return (step, state.window)
    }
}

/// metrics.jsonl: one JSON object per line, appended and flushed as it is written.
public final class MetricsLog {
    let handle: FileHandle

    /// The keys saro's trainer logs, TRL's names: each training row has the first group (and,
    /// for preference training, the pair metrics); evaluation rows have the same prefixed with
    /// `eval_`. Rows from another engine are kept to these keys.
    public static let trainingKeys = ["step", "epoch", "loss", "grad_norm", "learning_rate", "tokens_per_second"]
    public static let pairKeys = ["rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins", "logps/chosen", "logps/rejected"]

    public init(_ url: URL) throws {
        if !FileManager.default.fileExists(atPath: url.path) { _ = FileManager.default.createFile(atPath: url.path, contents: nil) }
        handle = try FileHandle(forWritingTo: url)
        try handle.seekToEnd()
    }

    deinit { try? handle.close() }

    public func write(_ row: [String: Double]) throws {
        var obj: [String: Any] = [:]
        for (k, v) in row { obj[k] = (k == "step" || k == "skipped") ? Int(v) as Any : (v.isFinite ? v as Any : NSNull()) }
        var data = try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys, .withoutEscapingSlashes])
        data.append(0x0A)
        try handle.write(contentsOf: data)
    }

    /// Drops lines logged after `step` (a resumed run writes them again).
    public static func truncate(_ url: URL, afterStep step: Int) throws {
        guard let data = FileManager.default.contents(atPath: url.path) else { return }
        let kept = String(decoding: data, as: UTF8.self).split(separator: "\n").filter { line in
            guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let s = obj["step"] as? Int else { return false }
            return s <= step
        }
        try Data((kept.joined(separator: "\n") + (kept.isEmpty ? "" : "\n")).utf8).write(to: url, options: .atomic)
    }
}

/// Averages of the steps since the last log line, as TRL logs them.
struct MetricWindow: Codable {
    /// Step losses (`loss`) and per-pair metric sums; saved in checkpoints for exact resume.
    var sums: [String: Double] = [:]
    var pairs = 0
    var steps = 0, tokens = 0
    var seconds = 0.0, gradNorm = 0.0, lr = 0.0

    init() {}
    // Checkpoints written before `pairs` had its own field kept the count among the sums.
    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        sums = try c.decode([String: Double].self, forKey: .sums)
        pairs = try c.decodeIfPresent(Int.self, forKey: .pairs) ?? Int(sums.removeValue(forKey: "pairs") ?? 0)
        steps = try c.decode(Int.self, forKey: .steps); tokens = try c.decode(Int.self, forKey: .tokens)
        seconds = try c.decode(Double.self, forKey: .seconds); gradNorm = try c.decode(Double.self, forKey: .gradNorm); lr = try c.decode(Double.self, forKey: .lr)
    }

    mutating func add(_ m: BatchMetrics, gradNorm g: Double, lr l: Double, tokens t: Int, seconds s: Double) {
        sums["loss", default: 0] += m.loss
        for (k, v) in m.pairSums { sums[k, default: 0] += v }
        pairs += m.pairs
        steps += 1; tokens += t; seconds += s; gradNorm += g; lr = l
    }

    mutating func flush(step: Int, epoch: Double) -> [String: Double]? {
        guard steps > 0 else { return nil }
        var row: [String: Double] = ["step": Double(step), "epoch": epoch, "grad_norm": gradNorm / Double(steps), "learning_rate": lr,
                                     "tokens_per_second": Double(tokens) / max(seconds, 1e-9), "loss": (sums["loss"] ?? 0) / Double(steps)]
        if pairs > 0 {
            for (k, v) in sums where k != "loss" { row[k] = v / Double(pairs) }
        }
        self = MetricWindow()
        return row
    }
}
