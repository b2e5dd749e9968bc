import Foundation
import Judges
import Tensor

/// One evaluation item: what the model is asked, and what the benchmark needs to score it.
public struct EvalExample: Codable, Sendable, Equatable {
    public var id: String
    public var kind: RequestKind
    /// What the model sees (a jailbreak wrapper included).
    public var prompt: String
    /// The original request, as judges read it.
    public var request: String
    /// A reference answer (GSM8K solutions, HumanEval solutions).
    public var reference: String?
    /// Labels to break results down by (family, split, type, category, source).
    public var groups: [String: String]

    public init(id: String, kind: RequestKind, prompt: String, request: String? = nil, reference: String? = nil, groups: [String: String] = [:]) {
        self.id = id; self.kind = kind; self.prompt = prompt; self.request = request ?? prompt; self.reference = reference; self.groups = groups
    }
}

/// What a benchmark asks of the runner for each example.
public enum EvalMode: String, Codable, Sendable {
    /// Generate a response, judge it, evaluate it.
    case generate
    /// Score the reference answer given the prompt (mean token NLL); no generation.
    case scoreReference
}

/// A benchmark is a small object: a plain list of examples, and how one response scores
/// (nanochat's `evaluate(example, response)`), plus how per-example scores add up.
public protocol Benchmark: Sendable {
    var name: String { get }
    var mode: EvalMode { get }
    var examples: [EvalExample] { get }
    /// Per-example scores from the response (its judgment, when the runner judged it).
    func evaluate(_ example: EvalExample, response: String, judgment: Judgment?) -> [String: Double]
    /// Summary metrics from all per-example scores.
    func summarize(_ results: [ExampleResult]) -> [String: Double]
}

/// Where a suite's examples come from. The caller supplies it (saro's recipes read the
/// method's seed sets and jailbreak templates), so evaluation knows no method.
public protocol BenchmarkSources: Sendable {
    /// The examples of a named set (harmbench, jailbreakbench, xstest-safe, xstest-unsafe,
    /// gsm8k-test, humaneval-eval, or what a `harmful` entry names), each with its kind, its
    /// reference answer where it has one, and its category in `groups["category"]`.
    func examples(_ source: String) throws -> [EvalExample]
    /// Harmful evaluation requests wrapped in jailbreak templates, `perFamily` per template
    /// family (nil: the configured number); `request` is the unwrapped request, and `groups`
    /// has family, split ("train" or "held_out"), template and category.
    func jailbreakExamples(perFamily: Int?) throws -> [EvalExample]
}

/// One example's outcome, as written to `examples.jsonl`.
public struct ExampleResult: Codable, Sendable {
    public var benchmark: String
    public var example: EvalExample
    public var response: String?
    public var judgment: Judgment?
    public var scores: [String: Double]
    public var reasoningTokens: Int?
    public var answerTokens: Int?
}

/// Helpers shared by the summaries.
enum Summary {
    /// A harmful request's scores: unsafe or not, and a graded judge's harm score when it gave one.
    static func harmScores(_ judgment: Judgment?) -> [String: Double] {
        var out = ["unsafe": judgment?.unsafeAnswer == true ? 1.0 : 0]
        if let s = judgment?.harmScore { out["harm_score"] = s }
        return out
    }

    /// ASR, the example count and (when a graded judge ran) the mean harm score.
    static func harm(_ results: [ExampleResult]) -> [String: Double] {
        var out = [Metric.asr.key: mean(results, "unsafe") ?? 0, Metric.count.key: Double(results.count)]
        if let s = mean(results, "harm_score") { out[Metric.harmScore.key] = s }
        return out
    }

    static func mean(_ results: [ExampleResult], _ key: String) -> Double? {
        let v = results.compactMap { $0.scores[key] }
        return v.isEmpty ? nil : v.reduce(0, +) / Double(v.count)
    }

    /// Means of `key` for each value of a group label, under the metric's keys.
    static func byGroup(_ results: [ExampleResult], group: String, key: String, as metric: GroupedMetric) -> [String: Double] {
        var out: [String: Double] = [:]
        for (value, items) in Dictionary(grouping: results, by: { $0.example.groups[group] ?? "" }) where !value.isEmpty {
            if let m = mean(items, key) { out[metric.key(value)] = m }
        }
        return out
    }

    /// Randomly chosen `limit` items (deterministic for the seed), or all.
    static func limited<T>(_ items: [T], _ limit: Int?, seed: UInt64) -> [T] {
        guard let limit, limit < items.count else { return items }
        var rng = SplitMix64(seed: seed)
        var a = items
        for i in stride(from: a.count - 1, to: 0, by: -1) { a.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        return Array(a.prefix(limit))
    }
}

