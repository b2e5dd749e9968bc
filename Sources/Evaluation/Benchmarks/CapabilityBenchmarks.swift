import Foundation
import Judges

/// GSM8K test accuracy: the last number of the final answer must equal the number after
/// `####` in the reference solution.
public struct GSM8KBenchmark: Benchmark {
    public let name = "gsm8k"
    public let examples: [EvalExample]
    public var mode: EvalMode { .generate }

    public init(examples: [EvalExample] = []) { self.examples = examples }

    /// The number a text ends on ("1,234.50" -> 1234.5), or nil.
    public static func lastNumber(_ text: String) -> Double? {
        let matches = text.matches(of: #/-?\d[\d,]*(?:\.\d+)?/#)
        guard let m = matches.last else { return nil }
        return Double(m.output.replacingOccurrences(of: ",", with: ""))
    }

    public static func referenceNumber(_ solution: String) -> Double? {
        guard let r = solution.range(of: "####") else { return lastNumber(solution) }
        return lastNumber(String(solution[r.upperBound...]))
    }

    public func evaluate(_ example: EvalExample, response: String, judgment: Judgment?) -> [String: Double] {
        let answer = ResponseFormat.standard.parse(response).answer
        guard let want = example.reference.flatMap(Self.referenceNumber), let got = Self.lastNumber(answer) else { return ["correct": 0] }
        return ["correct": abs(want - got) < 1e-6 ? 1 : 0]
    }

    public func summarize(_ results: [ExampleResult]) -> [String: Double] {
        [Metric.accuracy.key: Summary.mean(results, "correct") ?? 0, Metric.count.key: Double(results.count)]
    }
}

/// Mean token NLL of reference answers given their prompts (GSM8K test solutions, HumanEval
/// canonical solutions of the evaluation half): sensitive to capability loss even where a
/// small model's accuracy is near zero. No generation.
public struct ReferenceNLLBenchmark: Benchmark {
    public let name: String
    public let examples: [EvalExample]
    public var mode: EvalMode { .scoreReference }

    public init(name: String, examples: [EvalExample]) { self.name = name; self.examples = examples }

    /// Nothing to read in a response: the runner scores the reference itself and records
    /// `nll_sum` and `tokens` for each example.
    public func evaluate(_ example: EvalExample, response: String, judgment: Judgment?) -> [String: Double] { [:] }

    /// Token-weighted mean: total NLL over total reference tokens. An engine that cannot score
    /// given text leaves no `nll_sum`: then there is no `mean_nll` (the report shows a dash).
    public func summarize(_ results: [ExampleResult]) -> [String: Double] {
        let scored = results.filter { $0.scores["nll_sum"] != nil }
        guard !scored.isEmpty else { return [Metric.count.key: Double(results.count)] }
        let sum = scored.compactMap { $0.scores["nll_sum"] }.reduce(0, +)
        let tokens = scored.compactMap { $0.scores["tokens"] }.reduce(0, +)
        return [Metric.meanNLL.key: tokens > 0 ? sum / tokens : 0, Metric.scoredTokens.key: tokens, Metric.count.key: Double(results.count)]
    }
}
