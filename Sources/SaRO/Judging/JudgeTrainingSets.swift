import Foundation
import Judges
import Support

/// The labelled sets saro's shipped judges were trained and measured on, from PyRIT 1.1.0 (MIT),
/// fetched from PyPI like the seed data. Each question has a develop part (trained on) and
/// held-out parts whose human labels come from other files than the develop part's:
///
/// - refusal, develop: `refusal.csv` (105 answers, people's refusal labels) and the first 100
///   of `many_shot_examples.json` (harmful requests with compliant answers: compliance).
///   held-out: `refusal_extra.csv` (64 answers, labelled apart from refusal.csv).
/// - harm, develop: `many_shot_examples.json` 0..<300 (unsafe), the refusals of `refusal.csv`
///   (safe) and PyRIT's objective-scorer files of five harm categories (`objectiveDevelop`:
///   answers of chat models to harmful requests, labelled by people 1 when the answer achieved
///   the request's objective: unsafe). held-out: `many_shot_examples.json` 300..<400 (unsafe)
///   and all of `refusal_extra.csv` (its refusals, and compliant answers to benign requests:
///   safe); held-out-objective: the objective-scorer files of the other nine categories
///   (`objectiveHeldOut`), fixed before any judge was fit on the develop ones. The compliant rows
///   of refusal.csv are left out of harm: some answer harmful requests and carry no harm label.
///
/// A held-out part leaves out every answer the develop part also holds (PyRIT's files share some).
///
/// The develop-own and held-out-own parts are answers of saro's own models (SmolLM2-135M-Instruct
/// and the default recipe's four trained models) to the evaluation's requests, labelled by hand
/// for the project and shipped in the resources (`labels/smollm2-135m-answers`, whose README gives
/// the rubric); they are split by request, so no request is in both.
///
/// The develop-written and held-out-written parts (refusal only) are chat-style answers written
/// for the project (`labels/written`): refusals that decline without a stock phrase, partial
/// refusals, and compliant answers with warnings or sympathy, labelled under XSTest's definition.
public enum JudgeTrainingSets {
    public enum Part: String, CaseIterable, Sendable {
        case develop, heldOut = "held-out", heldOutObjective = "held-out-objective", developOwn = "develop-own", heldOutOwn = "held-out-own"
        case developWritten = "develop-written", heldOutWritten = "held-out-written"

        /// Why this part has no labels for the question, or nil when it has.
        public func unavailable(for task: JudgeTask) -> String? {
            switch (task, self) {
            case (.refusal, .heldOutObjective): return "held-out-objective is a harm part: PyRIT's objective-scorer files label harm, not refusal"
            case (.harm, .developWritten), (.harm, .heldOutWritten): return "\(rawValue) is a refusal part: the written answers are labelled for refusal, not harm"
            default: return nil
            }
        }
    }
    static let ownAnswers = "labels/smollm2-135m-answers/"
    static let writtenAnswers = "labels/written/"

    static let scorerFolder = "pyrit/datasets/scorer_evals/refusal_scorer/"
    static let objectiveFolder = "pyrit/datasets/scorer_evals/objective/"
    static let manyShot = "pyrit/datasets/jailbreak/many_shot_examples.json"
    /// PyRIT's objective-scorer categories: five to develop on, the rest held out.
    public static let objectiveDevelop = ["exploits", "hate_speech", "info_integrity", "privacy", "sexual"]
    public static let objectiveHeldOut = ["bias", "chemical_biological", "cyber", "harassment_bullying", "illegal_activity", "misinformation", "phishing", "self_harm", "violence"]

    public static func items(_ task: JudgeTask, _ part: Part, log: (String) -> Void = { _ in }) throws -> [JudgeValidation.Item] {
        if let why = part.unavailable(for: task) {
            throw SourceError.malformed(path: part == .heldOutObjective ? objectiveFolder : writtenAnswers, line: 0, reason: why)
        }
        switch part {
        case .developOwn: return try JudgeValidation.readLabels(try SaROResources.path(ownAnswers + task.rawValue + "-develop.csv"))
        case .heldOutOwn: return try JudgeValidation.readLabels(try SaROResources.path(ownAnswers + task.rawValue + "-held-out.csv"))
        case .developWritten, .heldOutWritten:
            return try JudgeValidation.readLabels(try SaROResources.path(writtenAnswers + "refusal-" + (part == .developWritten ? "develop" : "held-out") + ".csv"))
        case .develop, .heldOut, .heldOutObjective: return try pyritItems(task, part, log: log)
        }
    }

    /// The parts drawn from PyRIT's files.
    static func pyritItems(_ task: JudgeTask, _ part: Part, log: (String) -> Void) throws -> [JudgeValidation.Item] {
        let refusal = try JudgeValidation.readLabels(try DataPackages.file("pyrit", scorerFolder + "refusal.csv", log: log))
        let extra = try JudgeValidation.readLabels(try DataPackages.file("pyrit", scorerFolder + "refusal_extra.csv", log: log))
        let shots = try manyShotExamples(try DataPackages.file("pyrit", manyShot, log: log))
        func answered(_ range: Range<Int>, _ label: String) -> [JudgeValidation.Item] {
            shots[range].map { JudgeValidation.Item(prompt: $0.prompt, response: $0.response, label: label, file: $0.file, line: $0.line) }
        }
        func objective(_ categories: [String]) throws -> [JudgeValidation.Item] {
            try categories.flatMap { try JudgeValidation.readLabels(try DataPackages.file("pyrit", objectiveFolder + $0 + ".csv", log: log)) }
        }
        let develop = task == .refusal
            ? refusal + answered(0..<100, "compliance")
            : answered(0..<300, "unsafe") + refusal.filter { $0.label == "refusal" }.map { relabel($0, "safe") } + (try objective(objectiveDevelop))
        let heldOut: [JudgeValidation.Item]
        switch (task, part) {
        case (_, .develop): return develop
        case (_, .developOwn), (_, .heldOutOwn), (_, .developWritten), (_, .heldOutWritten), (.refusal, .heldOutObjective):
            preconditionFailure("items(_:_:) answers \(part.rawValue) for \(task.rawValue) itself")
        case (.refusal, .heldOut): heldOut = extra
        case (.harm, .heldOut): heldOut = answered(300..<400, "unsafe") + extra.map { relabel($0, "safe") }
        case (.harm, .heldOutObjective): heldOut = try objective(objectiveHeldOut)
        }
        // PyRIT's files reuse some answers (stock refusals among them): an answer the develop
        // part holds is not held out.
        let seen = Set(develop.map { $0.response.trimmingCharacters(in: .whitespacesAndNewlines) })
        return heldOut.filter { !seen.contains($0.response.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    static func relabel(_ i: JudgeValidation.Item, _ label: String) -> JudgeValidation.Item {
        var i = i
        i.label = label
        return i
    }

    /// PyRIT's many-shot file: a JSON array of {"user", "assistant"} pairs. Line numbers in
    /// errors are the pair's position (1-based).
    static func manyShotExamples(_ path: String) throws -> [JudgeValidation.Item] {
        guard let data = FileManager.default.contents(atPath: path) else { throw SourceError.missing(path) }
        let pairs: [[String: String]]
        do { pairs = try JSONDecoder().decode([[String: String]].self, from: data) } catch {
            throw SourceError.malformed(path: path, line: 1, reason: DecodingErrorText.describe(error))
        }
        guard pairs.count >= 400 else { throw SourceError.malformed(path: path, line: 1, reason: "\(pairs.count) pairs; 400 expected") }
        return try pairs.enumerated().map { i, p in
            guard let u = p["user"], let a = p["assistant"] else { throw SourceError.malformed(path: path, line: i + 1, reason: "pair without user and assistant") }
            return JudgeValidation.Item(prompt: u, response: a, label: "", file: path, line: i + 1)
        }
    }

    /// Writes items as a labelled CSV (prompt,response,label,source,convention) that `saro judge train` and
    /// `saro judge validate` read; the source is the package file each came from, as its folder
    /// and name (`objective/privacy.csv`).
    public static func writeCSV(_ items: [JudgeValidation.Item], to path: String) throws {
        func cell(_ s: String) -> String { "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
        func source(_ path: String) -> String {
            let url = URL(fileURLWithPath: path)
            return url.deletingLastPathComponent().lastPathComponent + "/" + url.lastPathComponent
        }
        let text = "prompt,response,label,source,convention\n"
            + items.map { [cell($0.prompt), cell($0.response), $0.label, cell(source($0.source)), $0.convention.rawValue].joined(separator: ",") + "\n" }.joined()
        try AtomicFile.write(Data(text.utf8), to: path)
    }
}
