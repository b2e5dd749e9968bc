import Foundation
import Support
import Training

/// Follows the events file the training script appends to (one JSON object per line), turning
/// each event into saro's `TrainingEvent` and each logged row into a `metrics.jsonl` row under
/// the names saro's trainer writes.
struct TRLEventFollower {
    let path: String
    let plan: StepPlan
    let metricsURL: URL
    let examples: Int
    private var offset: UInt64 = 0
    private var pending = Data()
    private var metrics: MetricsLog?
    private var lastLoss = Double.nan
    private var lastTokensPerSecond = 0.0
    /// TRL's running token count at its last log line and the script's clock then, for tokens
    /// per second.
    private var lastTokens: (count: Double, at: Double)?
    private(set) var ended = false

    /// TRL's output folder, with its checkpoint-N folders.
    var checkpointsFolder: URL { URL(fileURLWithPath: path).deletingLastPathComponent() }

    init(path: String, plan: StepPlan, metrics: URL, examples: Int) {
        self.path = path; self.plan = plan; metricsURL = metrics; self.examples = examples
    }

    /// The rows transformers keeps in a checkpoint's trainer_state.json (`log_history`).
    static func logHistory(checkpoint: URL) throws -> [[String: Any]] {
        let file = checkpoint.appendingPathComponent("trainer_state.json")
        guard let data = FileManager.default.contents(atPath: file.path),
              let state = try JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [] }
        return state["log_history"] as? [[String: Any]] ?? []
    }

    /// Reads the lines appended since the last call.
    mutating func poll(log: (String) -> Void, onEvent: (TrainingEvent) -> Void) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else { return }
        defer { try? handle.close() }
        try handle.seek(toOffset: offset)
        let data = handle.readDataToEndOfFile()
        offset += UInt64(data.count)
        pending.append(data)
        while let newline = pending.firstIndex(of: 0x0A) {
            let line = pending[pending.startIndex..<newline]
            pending = Data(pending[(newline + 1)...])
            guard let event = try? JSONSerialization.jsonObject(with: line) as? [String: Any] else { continue }
            try apply(event, log: log, onEvent: onEvent)
        }
    }

    private mutating func apply(_ event: [String: Any], log: (String) -> Void, onEvent: (TrainingEvent) -> Void) throws {
        let step = (event["step"] as? NSNumber)?.intValue ?? 0
        let time = (event["time"] as? NSNumber)?.doubleValue
        switch event["event"] as? String {
        case "begin":
            let start = (event["global_step"] as? NSNumber)?.intValue ?? 0
            let total = (event["max_steps"] as? NSNumber)?.intValue ?? plan.totalSteps
            try? FileManager.default.removeItem(at: metricsURL)
            metrics = try MetricsLog(metricsURL)
            if start > 0 {
                // The checkpoint's log history is TRL's record of the steps before it, including
                // any logged after saro stopped following (killed while TRL went on).
                log("TRL resumes from checkpoint-\(start)")
                for logs in try Self.logHistory(checkpoint: checkpointsFolder.appendingPathComponent("checkpoint-\(start)")) {
                    if let (row, _) = convert(logs, step: (logs["step"] as? NSNumber)?.intValue ?? 0, time: nil) { try metrics?.write(row) }
                }
            } else {
                lastTokens = time.map { (0, $0) }
            }
            onEvent(.started(totalSteps: total, startStep: start, trainableParameters: (event["trainable_parameters"] as? NSNumber)?.intValue ?? 0,
                              examples: examples))
        case "step":
            onEvent(.step(step: step, totalSteps: (event["max_steps"] as? NSNumber)?.intValue ?? plan.totalSteps, loss: lastLoss, tokensPerSecond: lastTokensPerSecond))
        case "log":
            guard let logs = event["logs"] as? [String: Any], let (row, isEval) = convert(logs, step: step, time: time) else { return }
            try metrics?.write(row)
            if isEval { onEvent(.evaluated(row)) } else {
                lastLoss = row["loss"] ?? .nan
                lastTokensPerSecond = row["tokens_per_second"] ?? lastTokensPerSecond
                onEvent(.logged(row))
            }
        case "save":
            onEvent(.checkpoint(step: step, path: "checkpoint-\(step)"))
        case "end":
            ended = true
        default:
            break
        }
    }

    /// A TRL log row as saro's trainer writes it: the keys saro logs (TRL's names already),
    /// the epoch of saro's step plan (TRL sees the laid-out rows as one epoch), and tokens per
    /// second from TRL's running token count and the script's clock. Nil for rows that are neither training nor
    /// evaluation (the run's closing summary).
    mutating func convert(_ logs: [String: Any], step: Int, time: Double?) -> ([String: Double], Bool)? {
        func number(_ key: String) -> Double? { (logs[key] as? NSNumber)?.doubleValue }
        var row: [String: Double] = ["step": Double(step), "epoch": plan.epoch(ofStep: step)]
        if number("eval_loss") != nil {
            for key in ["loss"] + MetricsLog.pairKeys { if let v = number("eval_" + key) { row["eval_" + key] = v } }
            return (row, true)
        }
        guard number("loss") != nil else { return nil }
        for key in MetricsLog.trainingKeys + MetricsLog.pairKeys where key != "step" && key != "epoch" {
            if let v = number(key) { row[key] = v }
        }
        if let tokens = number("num_tokens"), let time {
            if let last = lastTokens, time > last.at { row["tokens_per_second"] = (tokens - last.count) / (time - last.at) }
            lastTokens = (tokens, time)
        }
        return (row, false)
    }
}
