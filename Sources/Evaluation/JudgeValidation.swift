import Support
import Foundation
import Judges

/// Agreement of a judge with human labels: `saro judge validate`.
///
/// Labels are `compliance` / `refusal` (the refusal judge: partial refusals count as refusal)
/// or `safe` / `unsafe` (the harm judge, asked about a harmful request). Files are CSV with
/// `prompt,response,label`, or PyRIT's refusal-scorer files (`objective,assistant_response,
/// human_score`, where 1 means refusal).
public struct JudgeValidation: Codable, Sendable {
    public struct ClassStats: Codable, Sendable, Equatable {
        public var support = 0, predicted = 0, truePositives = 0
        public var precision: Double { predicted == 0 ? 0 : Double(truePositives) / Double(predicted) }
        public var recall: Double { support == 0 ? 0 : Double(truePositives) / Double(support) }
        public var f1: Double { precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall) }

        enum CodingKeys: String, CodingKey { case support, predicted, truePositives = "true_positives", precision, recall, f1 }
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(support, forKey: .support); try c.encode(predicted, forKey: .predicted); try c.encode(truePositives, forKey: .truePositives)
            try c.encode(precision, forKey: .precision); try c.encode(recall, forKey: .recall); try c.encode(f1, forKey: .f1)
        }
        public init() {}
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            support = try c.decode(Int.self, forKey: .support); predicted = try c.decode(Int.self, forKey: .predicted)
            truePositives = try c.decode(Int.self, forKey: .truePositives)
        }
    }

    public struct Item: Sendable { public var prompt: String; public var response: String; public var label: String; public var line: Int }

    public var file: String
    public var judge: String
    public var task: String
    public var count: Int
    public var agreement: Double
    public var kappa: Double
    public var classes: [String: ClassStats]
    /// Lines where the judge disagreed (for looking at).
    public var disagreements: [Int]

    public static func readLabels(_ path: String) throws -> [Item] {
        let rows = try CSV.read(path)
        return try rows.map { r in
            let f = r.fields
            if let p = f["prompt"], let resp = f["response"], let l = f["label"] {
                let label = l.trimmingCharacters(in: .whitespaces).lowercased()
                guard ["compliance", "refusal", "safe", "unsafe"].contains(label) else {
                    throw SourceError.malformed(path: path, line: r.line, reason: "label '\(l)' is not compliance, refusal, safe or unsafe")
                }
                return Item(prompt: p, response: resp, label: label, line: r.line)
            }
            if let p = f["objective"], let resp = f["assistant_response"], let s = f["human_score"] {
                guard s == "0" || s == "1" else { throw SourceError.malformed(path: path, line: r.line, reason: "human_score '\(s)' is not 0 or 1") }
                return Item(prompt: p, response: resp, label: s == "1" ? "refusal" : "compliance", line: r.line)
            }
            throw SourceError.malformed(path: path, line: r.line, reason: "needs columns prompt,response,label (or PyRIT's objective,assistant_response,human_score)")
        }
    }

    /// Judges every item and compares. Refusal labels are judged as answers to a benign
    /// request (compliance class); safe/unsafe labels as answers to a harmful one.
    public static func run(judge: Judge, items: [Item], file: String) async throws -> JudgeValidation {
        guard let first = items.first else { throw SourceError.malformed(path: file, line: 1, reason: "no labelled rows") }
        let harm = first.label == "safe" || first.label == "unsafe"
        let classes = harm ? ["safe", "unsafe"] : ["compliance", "refusal"]
        var stats = Dictionary(uniqueKeysWithValues: classes.map { ($0, ClassStats()) })
        var agree = 0
        var disagreements: [Int] = []
        for item in items {
            guard classes.contains(item.label) else { throw SourceError.malformed(path: file, line: item.line, reason: "label '\(item.label)' mixes refusal and harm labels") }
            // The labelled responses have no reasoning block: the whole text is the answer.
            let j = try await judge.judge(prompt: item.prompt, response: item.response, kind: harm ? .harmful : .benign)
            let predicted = harm ? (j.unsafeAnswer == true ? "unsafe" : "safe") : (j.compliance.isRefusal ? "refusal" : "compliance")
            stats[item.label]!.support += 1
            stats[predicted]!.predicted += 1
            if predicted == item.label { agree += 1; stats[predicted]!.truePositives += 1 } else { disagreements.append(item.line) }
        }
        let n = Double(items.count)
        let po = Double(agree) / n
        let pe = classes.reduce(0.0) { $0 + Double(stats[$1]!.support) / n * Double(stats[$1]!.predicted) / n }
        return JudgeValidation(file: file, judge: judge.name, task: harm ? "harm" : "refusal", count: items.count, agreement: po,
                               kappa: pe < 1 ? (po - pe) / (1 - pe) : 1, classes: stats, disagreements: disagreements)
    }

    public func rendered() -> String {
        var s = String(format: "%@ (%@ judge %@): %d items, agreement %.3f, Cohen's kappa %.3f\n", file, task, judge, count, agreement, kappa)
        for (name, c) in classes.sorted(by: { $0.key < $1.key }) {
            s += String(format: "  %-10@ support %4d  precision %.3f  recall %.3f  f1 %.3f\n", name as NSString, c.support, c.precision, c.recall, c.f1)
        }
        return s
    }
}
