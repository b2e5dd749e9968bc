import Foundation
import Jobs

/// How often responses reflect or correct themselves, by model and prompt kind.
public enum ReflectionStats {
    public static let phrases = ["let me reconsider", "on second thought", "let me re-examine", "let me double-check", "let me think again",
                                 "hold on", "i should reconsider", "reconsider", "re-examine"]

    public static func reflects(_ text: String) -> Bool {
        let t = text.lowercased()
        // "wait" as a word (not "awaits"), or one of the phrases.
        return t.range(of: #"\bwait\b"#, options: .regularExpression) != nil || phrases.contains { t.contains($0) }
    }

    /// Share of responses that reflect, per prompt kind (and "all").
    public static func shares(_ examples: [ExampleResult]) -> [String: Double] {
        let responses = examples.filter { $0.response != nil }
        var out: [String: Double] = [:]
        for (kind, items) in Dictionary(grouping: responses, by: { $0.example.kind.rawValue }) {
            out[kind] = Double(items.filter { reflects($0.response!) }.count) / Double(items.count)
        }
        if !responses.isEmpty { out["all"] = Double(responses.filter { reflects($0.response!) }.count) / Double(responses.count) }
        return out
    }
}

/// Training curves from a trainer's `metrics.jsonl`: every numeric column by step (loss,
/// learning rate, DPO reward accuracy and margins, and the `eval_` columns of validation rows).
public struct TrainingCurves: Codable, Sendable {
    public var label: String
    /// Column name -> [step, value] points.
    public var series: [String: [[Double]]]

    public static func read(label: String, path: String) throws -> TrainingCurves {
        var series: [String: [[Double]]] = [:]
        for (_, obj) in try JSONL.readObjects(path) {
            guard let step = (obj["step"] as? NSNumber)?.doubleValue else { continue }
            for (k, v) in obj where k != "step" {
                guard let n = v as? NSNumber, !(v is Bool), n.doubleValue.isFinite else { continue }
                series[k, default: []].append([step, n.doubleValue])
            }
        }
        return TrainingCurves(label: label, series: series)
    }
}
