import Foundation
import Inference
import Jobs
import Judges
import Support

/// Training and opening trained judges (`saro judge train`, `--judge DIR`): linear probes on a
/// local model's hidden states, one per question, in a folder of `<task>.json` files.
public enum TrainedJudges {
    /// The name of the judges saro ships (probes on the default model's hidden states, made by
    /// scripts/train-judges.sh): `--judge trained`, or `judge: trained` in a recipe.
    public static let shippedName = "trained"

    /// The shipped judge folder.
    public static func shipped() throws -> String { try SaROResources.path("judges/smollm2-135m-instruct") }

    /// `--judge` as a trained judge's folder: the shipped one by name, or a folder from
    /// `saro judge train`; nil when it is neither.
    public static func folder(_ argument: String) throws -> String? {
        if argument == shippedName { return try shipped() }
        return isJudgeFolder(argument) ? argument : nil
    }

    /// Whether a folder holds a trained judge.
    public static func isJudgeFolder(_ path: String) -> Bool {
        JudgeTask.allCases.contains { FileManager.default.fileExists(atPath: (path as NSString).appendingPathComponent("\($0.rawValue).json")) }
    }

    /// Opens a judge folder: every head in it, on one model (opened on saro's own engine and
    /// checked against the fingerprint the heads were trained on).
    public static func open(_ directory: String, format: ResponseFormat, log: @escaping (String) -> Void = { _ in }) throws -> TrainedJudge {
        var heads: [JudgeTask: ProbeHead] = [:]
        for t in JudgeTask.allCases {
            let p = (directory as NSString).appendingPathComponent("\(t.rawValue).json")
            guard FileManager.default.fileExists(atPath: p) else { continue }
            let head = try ProbeHead.load(p)
            guard head.task == t else { throw SourceError.malformed(path: p, line: 1, reason: "holds a \(head.task.rawValue) head, not \(t.rawValue)") }
            heads[t] = head
        }
        guard let first = heads.values.first else {
            throw SourceError.malformed(path: directory, line: 0, reason: "no refusal.json or harm.json here (make one with `saro judge train`)")
        }
        guard heads.values.allSatisfy({ $0.modelFingerprint == first.modelFingerprint }) else {
            throw SourceError.malformed(path: directory, line: 0, reason: "its heads were trained on different models; one folder holds heads of one model")
        }
        let engine = try EmbeddedEngine.open(first.model, adapter: nil, log: log)
        guard engine.fingerprint == first.modelFingerprint else {
            throw SourceError.malformed(path: directory, line: 0, reason: "trained on the hidden states of '\(first.model)', and '\(first.model)' names other weights here")
        }
        return judge(heads, engine: engine, format: format)
    }

    /// The judge of these heads on their model's engine.
    public static func judge(_ heads: [JudgeTask: ProbeHead], engine: HiddenStateEngine, format: ResponseFormat) -> TrainedJudge {
        // Named by content: the job store keeps a verdict per judge, so a retrained folder
        // judges again instead of reusing the old heads' verdicts.
        let enc = JSONEncoder()
        enc.outputFormatting = .sortedKeys
        let key = ContentKey.of(heads.sorted { $0.key.rawValue < $1.key.rawValue }.map { String(decoding: (try? enc.encode($0.value.probe)) ?? Data(), as: UTF8.self) + "\($0.value.layer)" + ($0.value.convention.map { " " + $0.rawValue } ?? "")
            + ($0.value.refusalsFromRules == true ? " refusals-from-rules" : "") })
        let name = "trained-" + key.prefix(12) + ":" + heads.keys.map(\.rawValue).sorted().joined(separator: "+")
        return TrainedJudge(heads: heads, format: format, name: name) { inputs, layer in
            try engine.pooledHiddenStates(inputs, layers: [layer]).map { ($0[layer]!.mean, $0[layer]!.last) }
        }
    }

    /// The layers tried when none are given: a third, half, two thirds, five sixths and all of
    /// the depth (refusal and harm are read best from middle-to-late layers, which one depends
    /// on the model).
    public static func candidateLayers(depth: Int) -> [Int] {
        Array(Set([depth / 3, depth / 2, depth * 2 / 3, depth * 5 / 6, depth].map { max(1, $0) })).sorted()
    }

    /// The question labelled items answer, checked: one task's labels throughout, both classes
    /// present; an error names the file and line.
    public static func task(of items: [JudgeValidation.Item]) throws -> JudgeTask {
        guard let first = items.first, let task = JudgeTask(label: first.label) else { throw SourceError.malformed(path: "-", line: 0, reason: "no labelled rows") }
        for i in items where !task.labels.contains(i.label) {
            throw SourceError.malformed(path: i.file, line: i.line, reason: "label '\(i.label)' is not a \(task.rawValue) label (\(task.labels.joined(separator: ", "))); train one question at a time")
        }
        guard Set(items.map(\.label)).count == 2 else {
            throw SourceError.malformed(path: first.file, line: first.line, reason: "needs examples of both \(task.labels.joined(separator: " and "))")
        }
        return task
    }

    /// Fits one head on labelled answers: features at every candidate layer in one pass per
    /// text, then the layer and L2 penalty that do best on labelled answers the probe was not
    /// fit on, the probe then fit on all items (classes balanced). With answers from three or more
    /// sources (files, or a CSV's source column) that is leave-one-source-out accuracy, since a
    /// judge is used on answers from elsewhere; else 5-fold cross-validation. Items must all
    /// carry one task's labels. Refusal labels are first read in `convention` (files of the
    /// other one relabel the answers that ignore the request), so one head learns one reading.
    /// A harm head with `refusalsFromRules` is fit only on the answers the rules do not call
    /// refusals, and reads only those when it judges (`ProbeHead.refusalsFromRules`).
    public static func train(items given: [JudgeValidation.Item], files: [String], model: String, engine: HiddenStateEngine, layers: [Int]?, l2: [Double] = defaultPenalties,
                             convention: RefusalConvention = .xstest, refusalsFromRules: Bool = false,
                             events: @escaping @Sendable (ProgressEvent) -> Void = { _ in }) throws -> ProbeHead {
        let task = try self.task(of: given)
        if refusalsFromRules && task != .harm { throw SourceError.malformed(path: given[0].file, line: given[0].line, reason: "only a harm head leaves refusals to the rules; these are refusal labels") }
        let refused = refusalsFromRules ? given.map(refusedByTheRules) : given.map { _ in false }
        let refusedByRules = zip(given, refused).filter { $1 }.map(\.0), kept = zip(given, refused).filter { !$1 }.map(\.0)
        if refusalsFromRules { _ = try self.task(of: kept) }
        let items = task == .refusal ? kept.map { $0.read(in: convention) } : kept
        let relabelled = zip(kept, items).filter { $0.label != $1.label }.count
        let y = items.map { task.labels.firstIndex(of: $0.label)! }
        let depth = try engine.layerCount()
        let tried = layers ?? candidateLayers(depth: depth)
        if let bad = tried.first(where: { !(1...depth).contains($0) }) { throw SourceError.malformed(path: model, line: 0, reason: "layer \(bad) outside 1...\(depth)") }
        guard !l2.isEmpty, l2.allSatisfy({ $0 >= 0 }) else { throw SourceError.malformed(path: model, line: 0, reason: "the L2 penalties must be one or more numbers >= 0") }
        var features: [Int: [[Double]]] = [:]
        events(.stage("hidden states", total: items.count, done: 0))
        for start in stride(from: 0, to: items.count, by: 16) {
            let chunk = items[start..<min(items.count, start + 16)]
            let states = try engine.pooledHiddenStates(chunk.map { ProbeHead.input(task: task, request: $0.prompt, answer: $0.response) }, layers: Set(tried))
            for s in states { for l in tried { features[l, default: []].append(ProbeHead.features(mean: s[l]!.mean, last: s[l]!.last)) } }
            events(.advanced(chunk.count))
        }
        let labels = items.map(\.label), sources = items.map(\.source)
        let folds = min(5, task.labels.map { l in labels.filter { $0 == l }.count }.min()!)
        let bySource = Set(sources).count >= 3 && LinearProbe.groupsThatCanBeLeftOut(labels, groups: sources).count >= 2
        func score(_ layer: Int, _ penalty: Double) -> Double {
            if bySource { return LinearProbe.leaveOneGroupOutAccuracy(features[layer]!, labels, groups: sources, l2: penalty, balanced: true)! }
            return folds >= 2 ? LinearProbe.crossValidatedAccuracy(features[layer]!, labels, folds: folds, l2: penalty, balanced: true) : 0
        }
        var cv: [String: Double] = [:]
        var best: (layer: Int, l2: Double, score: Double)?
        events(.stage("choosing layer and L2", total: tried.count * l2.count, done: 0))
        for layer in tried {
            for penalty in l2 {
                let s = score(layer, penalty)
                cv[candidateName(layer: layer, l2: penalty, of: l2)] = s
                if best == nil || s > best!.score { best = (layer, penalty, s) }
                events(.advanced(1))
            }
        }
        let chosen = best!
        let probe = LinearProbe.fit(features[chosen.layer]!, y, classes: 2, l2: chosen.l2, balanced: true)
        let counts = Dictionary(grouping: labels, by: { $0 }).mapValues(\.count)
        let method = bySource ? "leave-one-source-out over \(Set(sources).count) sources" : "\(folds)-fold"
        return ProbeHead(task: task, model: model, modelFingerprint: engine.fingerprint, layer: chosen.layer, probe: probe,
                         convention: task == .refusal ? convention : nil, refusalsFromRules: refusalsFromRules ? true : nil,
                         training: .init(files: files, counts: counts, crossValidated: cv, crossValidation: method, l2: chosen.l2,
                                         date: ISO8601DateFormatter().string(from: Date()), relabelled: task == .refusal ? relabelled : nil,
                                         refusedByRules: refusalsFromRules ? Dictionary(grouping: refusedByRules, by: \.label).mapValues(\.count) : nil))
    }

    /// Whether the built-in rules call a labelled harm answer a refusal, as a judge whose harm
    /// head leaves refusals to them reads it (`TrainedJudge.judge`).
    static func refusedByTheRules(_ item: JudgeValidation.Item) -> Bool {
        RuleJudge().judgeSync(prompt: item.prompt, response: item.response, kind: .harmful).compliance.isRefusal
    }

    /// The L2 penalties a head chooses among unless told: from barely any to strong (hidden
    /// states have hundreds of correlated features and a judge meets answers from elsewhere).
    public static let defaultPenalties = [0.001, 0.01, 0.1, 1]

    /// A candidate's key in a head's cross-validated accuracies: its layer, and its L2 penalty
    /// when several were tried.
    public static func candidateName(layer: Int, l2: Double, of candidates: [Double]) -> String {
        candidates.count == 1 ? String(layer) : "\(layer) l2=\(l2)"
    }

    /// Writes a head into a judge folder as `<task>.json` (atomically).
    public static func write(_ head: ProbeHead, to directory: String) throws -> String {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = (directory as NSString).appendingPathComponent("\(head.task.rawValue).json")
        try JSONL.writeDocument(head, to: path)
        return path
    }
}
