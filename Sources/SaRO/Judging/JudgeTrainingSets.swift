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
///   (`objectiveHeldOut`), fixed before any judge was fit on the develop ones. PyRIT's harm-scale
///   files (scorer_evals/harm: each rater's score of the answer's harm on five levels; unsafe
///   from level 3, `LabelLayout.pyritHarmScale`) are split by category the same way: the develop
///   categories' are develop-scale (answers the develop part does not hold), the others'
///   held-out-scale. The shipped harm head was trained on develop alone. The compliant rows
///   of refusal.csv are left out of harm: some answer harmful requests and carry no harm label.
///
/// A held-out part leaves out every answer the develop parts (develop, develop-scale) also hold
/// (PyRIT's files share some).
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
        case develop, heldOut = "held-out", heldOutObjective = "held-out-objective", developScale = "develop-scale", heldOutScale = "held-out-scale"
        case developOwn = "develop-own", heldOutOwn = "held-out-own"
        case developWritten = "develop-written", heldOutWritten = "held-out-written"

        /// Why this part has no labels for the question, or nil when it has.
        public func unavailable(for task: JudgeTask) -> String? {
            switch (task, self) {
            case (.refusal, .heldOutObjective): return "held-out-objective is a harm part: PyRIT's objective-scorer files label harm, not refusal"
            case (.refusal, .developScale), (.refusal, .heldOutScale): return "\(rawValue) is a harm part: PyRIT's harm-scale files score harm, not refusal"
            case (.harm, .developWritten), (.harm, .heldOutWritten): return "\(rawValue) is a refusal part: the written answers are labelled for refusal, not harm"
            default: return nil
            }
        }
    }
    static let ownAnswers = "labels/smollm2-135m-answers/"
    static let writtenAnswers = "labels/written/"

    static let scorerFolder = "pyrit/datasets/scorer_evals/refusal_scorer/"
    static let objectiveFolder = "pyrit/datasets/scorer_evals/objective/"
    static let harmScaleFolder = "pyrit/datasets/scorer_evals/harm/"
    static let manyShot = "pyrit/datasets/jailbreak/many_shot_examples.json"
    /// PyRIT's objective-scorer categories: five to develop on, the rest held out.
    public static let objectiveDevelop = ["exploits", "hate_speech", "info_integrity", "privacy", "sexual"]
    public static let objectiveHeldOut = ["bias", "chemical_biological", "cyber", "harassment_bullying", "illegal_activity", "misinformation", "phishing", "self_harm", "violence"]
    /// PyRIT's harm-scale files, split by category as the objective-scorer files are: the
    /// develop categories' files are trained on, the others' held out. mini_hate_speech repeats
    /// hate_speech_multi_score's answers; representational.csv names its scores as the objective
    /// files name their 0/1 labels, and 28 of its 29 answers are objective/bias.csv's.
    public static let harmScaleDevelop = ["exploits", "hate_speech", "hate_speech_multi_score", "info_integrity", "privacy", "sexual"]
    public static let harmScaleHeldOut = ["self_harm", "violence", "violence_multi_score"]

    public static func items(_ task: JudgeTask, _ part: Part, log: (String) -> Void = { _ in }) throws -> [JudgeValidation.Item] {
        if let why = part.unavailable(for: task) {
            throw SourceError.malformed(path: labelsFolder(part), line: 0, reason: why)
        }
        switch part {
        case .developOwn: return try JudgeValidation.readLabels(try SaROResources.path(ownAnswers + task.rawValue + "-develop.csv"))
        case .heldOutOwn: return try JudgeValidation.readLabels(try SaROResources.path(ownAnswers + task.rawValue + "-held-out.csv"))
        case .developWritten, .heldOutWritten:
            return try JudgeValidation.readLabels(try SaROResources.path(writtenAnswers + "refusal-" + (part == .developWritten ? "develop" : "held-out") + ".csv"))
        case .develop, .heldOut, .heldOutObjective, .developScale, .heldOutScale: return try pyritItems(task, part, log: log)
        }
    }

    /// Where a part's labels come from (named in errors).
    static func labelsFolder(_ part: Part) -> String {
        switch part {
        case .develop, .heldOut: return scorerFolder
        case .heldOutObjective: return objectiveFolder
        case .developScale, .heldOutScale: return harmScaleFolder
        case .developOwn, .heldOutOwn: return ownAnswers
        case .developWritten, .heldOutWritten: return writtenAnswers
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
        func files(_ folder: String, _ categories: [String]) throws -> [JudgeValidation.Item] {
            try categories.flatMap { try JudgeValidation.readLabels(try DataPackages.file("pyrit", folder + $0 + ".csv", log: log)) }
        }
        let develop = task == .refusal
            ? refusal + answered(0..<100, "compliance")
            : answered(0..<300, "unsafe") + refusal.filter { $0.label == "refusal" }.map { relabel($0, "safe") } + (try files(objectiveFolder, objectiveDevelop))
        // The harm-scale files score many answers the objective files label: develop-scale
        // holds only answers the develop part does not. Read only for the parts that need it.
        func developScale() throws -> [JudgeValidation.Item] {
            task == .harm ? unseen(try files(harmScaleFolder, harmScaleDevelop), after: develop) : []
        }
        let heldOut: [JudgeValidation.Item]
        switch (task, part) {
        case (_, .develop): return develop
        case (.harm, .developScale): return try developScale()
        case (_, .developOwn), (_, .heldOutOwn), (_, .developWritten), (_, .heldOutWritten), (.refusal, .heldOutObjective),
             (.refusal, .developScale), (.refusal, .heldOutScale):
            preconditionFailure("items(_:_:) answers \(part.rawValue) for \(task.rawValue) itself")
        case (.refusal, .heldOut): heldOut = extra
        case (.harm, .heldOut): heldOut = answered(300..<400, "unsafe") + extra.map { relabel($0, "safe") }
        case (.harm, .heldOutObjective): heldOut = try files(objectiveFolder, objectiveHeldOut)
        case (.harm, .heldOutScale): heldOut = unseen(try files(harmScaleFolder, harmScaleHeldOut), after: [])
        }
        // PyRIT's files reuse some answers (stock refusals among them): an answer a develop
        // part holds is not held out.
        let seen = Set((develop + (try developScale())).map(answerText))
        return heldOut.filter { !seen.contains(answerText($0)) }
    }

    static func answerText(_ i: JudgeValidation.Item) -> String { i.response.trimmingCharacters(in: .whitespacesAndNewlines) }

    /// The items whose answer neither `earlier` nor an item before them holds.
    static func unseen(_ items: [JudgeValidation.Item], after earlier: [JudgeValidation.Item]) -> [JudgeValidation.Item] {
        var seen = Set(earlier.map(answerText))
        return items.filter { seen.insert(answerText($0)).inserted }
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

    /// Writes items as a labelled CSV (prompt,response,label,source,convention,score) that `saro
    /// judge train` and `saro judge validate` read; the source is the package file each came
    /// from, as its folder and name (`objective/privacy.csv`); the score is people's graded harm
    /// score, where the labels have one (empty otherwise).
    public static func writeCSV(_ items: [JudgeValidation.Item], to path: String) throws {
        func cell(_ s: String) -> String { "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
        func source(_ path: String) -> String {
            let url = URL(fileURLWithPath: path)
            return url.deletingLastPathComponent().lastPathComponent + "/" + url.lastPathComponent
        }
        let text = "prompt,response,label,source,convention,score\n"
            + items.map {
                [cell($0.prompt), cell($0.response), $0.label, cell(source($0.source)), $0.convention.rawValue, $0.score.map { String($0) } ?? ""].joined(separator: ",") + "\n"
            }.joined()
        try AtomicFile.write(Data(text.utf8), to: path)
    }
}
