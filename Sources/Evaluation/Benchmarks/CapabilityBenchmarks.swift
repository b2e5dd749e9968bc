import Foundation
import Judges
import SaRO

/// GSM8K test accuracy: the last number of the final answer must equal the number after
/// `####` in the reference solution.
public struct GSM8KBenchmark: Benchmark {
    public let name = "gsm8k"
    public let limit: Int?
    public var mode: EvalMode { .generate }

    public init(limit: Int? = nil) { self.limit = limit }

    public func examples(_ context: BenchmarkContext) throws -> [EvalExample] {
        Summary.limited(try context.sources.load("gsm8k-test"), limit, seed: 4).map {
            EvalExample(id: $0.id, kind: .benign, prompt: $0.text, reference: $0.reference)
        }
    }

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
        ["accuracy": Summary.mean(results, "correct") ?? 0, "count": Double(results.count)]
    }
}

/// Mean token NLL of reference answers given their prompts (GSM8K test solutions, HumanEval
/// canonical solutions of the evaluation half): sensitive to capability loss even where a
/// small model's accuracy is near zero. No generation.
public struct ReferenceNLLBenchmark: Benchmark {
    public let name: String
    public let source: String
    public let limit: Int?
    public var mode: EvalMode { .scoreReference }

    public init(name: String, source: String, limit: Int? = nil) { self.name = name; self.source = source; self.limit = limit }

    public func examples(_ context: BenchmarkContext) throws -> [EvalExample] {
        Summary.limited(try context.sources.load(source).filter { $0.reference != nil }, limit, seed: 5).map {
            EvalExample(id: $0.id, kind: .benign, prompt: $0.text, reference: $0.reference)
        }
    }

    /// Nothing to read in a response: the runner scores the reference itself and records
    /// `nll_sum` and `tokens` for each example.
    public func evaluate(_ example: EvalExample, response: String, judgment: Judgment?) -> [String: Double] { [:] }

    /// Token-weighted mean: total NLL over total reference tokens.
    public func summarize(_ results: [ExampleResult]) -> [String: Double] {
        let sum = results.compactMap { $0.scores["nll_sum"] }.reduce(0, +)
        let tokens = results.compactMap { $0.scores["tokens"] }.reduce(0, +)
        return ["mean_nll": tokens > 0 ? sum / tokens : 0, "tokens": tokens, "count": Double(results.count)]
    }
}
