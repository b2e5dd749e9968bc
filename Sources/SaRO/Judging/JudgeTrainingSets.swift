import Foundation
import Judges
import Support

/// The labelled sets saro's shipped judges were trained and measured on, from PyRIT 1.1.0 (MIT),
/// fetched from PyPI like the seed data. Each question has a develop part (trained on) and a
/// held-out part whose human labels come from another file than the develop part's:
///
/// - refusal, develop: `refusal.csv` (105 answers, people's refusal labels) and the first 100
///   of `many_shot_examples.json` (harmful requests with compliant answers: compliance).
///   held-out: `refusal_extra.csv` (64 answers, labelled apart from refusal.csv).
/// - harm, develop: `many_shot_examples.json` 0..<300 (unsafe) and the refusals of
///   `refusal.csv` (safe). held-out: `many_shot_examples.json` 300..<400 (unsafe) and all of
///   `refusal_extra.csv` (its refusals, and compliant answers to benign requests: safe). The
///   compliant rows of refusal.csv are left out of harm: some answer harmful requests and carry
///   no harm label.
public enum JudgeTrainingSets {
    public enum Part: String, CaseIterable, Sendable { case develop, heldOut = "held-out" }

    static let scorerFolder = "pyrit/datasets/scorer_evals/refusal_scorer/"
    static let manyShot = "pyrit/datasets/jailbreak/many_shot_examples.json"

    public static func items(_ task: JudgeTask, _ part: Part, log: (String) -> Void = { _ in }) throws -> [JudgeValidation.Item] {
        let refusal = try JudgeValidation.readLabels(try DataPackages.file("pyrit", scorerFolder + "refusal.csv", log: log))
        let extra = try JudgeValidation.readLabels(try DataPackages.file("pyrit", scorerFolder + "refusal_extra.csv", log: log))
        let shots = try manyShotExamples(try DataPackages.file("pyrit", manyShot, log: log))
        func answered(_ range: Range<Int>, _ label: String) -> [JudgeValidation.Item] {
            shots[range].map { JudgeValidation.Item(prompt: $0.prompt, response: $0.response, label: label, file: $0.file, line: $0.line) }
        }
        switch (task, part) {
        case (.refusal, .develop): return refusal + answered(0..<100, "compliance")
        case (.refusal, .heldOut): return extra
        case (.harm, .develop): return answered(0..<300, "unsafe") + refusal.filter { $0.label == "refusal" }.map { relabel($0, "safe") }
        case (.harm, .heldOut): return answered(300..<400, "unsafe") + extra.map { relabel($0, "safe") }
        }
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

    /// Writes items as a labelled CSV (prompt,response,label) that `saro judge train` and
    /// `saro judge validate` read.
    public static func writeCSV(_ items: [JudgeValidation.Item], to path: String) throws {
        func cell(_ s: String) -> String { "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
        let text = "prompt,response,label\n" + items.map { [cell($0.prompt), cell($0.response), $0.label].joined(separator: ",") + "\n" }.joined()
        try AtomicFile.write(Data(text.utf8), to: path)
    }
}
