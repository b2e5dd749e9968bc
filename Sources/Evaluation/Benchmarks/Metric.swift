import Foundation

/// A summary metric in `results.json`: its key and what kind of number it is. Benchmarks write
/// metrics and the report and the command line read them through the same value, so a renamed
/// key cannot leave an empty column, and the report formats each by its kind rather than by
/// what its name contains.
public struct Metric: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        /// A share of examples, shown as a percentage.
        case rate
        /// A mean number of tokens.
        case tokens
        /// A mean negative log-likelihood per token.
        case nll
        /// A number of examples or tokens.
        case count
        /// A mean score between 0 and 1.
        case score
    }

    public let key: String
    public let kind: Kind

    public init(_ key: String, _ kind: Kind) { self.key = key; self.kind = kind }

    // Safety benchmarks.
    public static let asr = Metric("asr", .rate)
    public static let count = Metric("count", .count)
    /// A graded judge's mean harm score (StrongREJECT-style, 0 to 1).
    public static let harmScore = Metric("harm_score", .score)
    public static let safeRefusalRate = Metric("safe_refusal_rate", .rate)
    public static let safeFullRefusalRate = Metric("safe_full_refusal_rate", .rate)
    public static let safePartialRefusalRate = Metric("safe_partial_refusal_rate", .rate)
    public static let unsafeComplianceRate = Metric("unsafe_compliance_rate", .rate)
    public static let safeCount = Metric("safe_count", .count)
    public static let unsafeCount = Metric("unsafe_count", .count)
    // Capability.
    public static let accuracy = Metric("accuracy", .rate)
    public static let meanNLL = Metric("mean_nll", .nll)
    public static let scoredTokens = Metric("tokens", .count)
    // Reasoning cost over every response of a run.
    public static let responses = Metric("responses", .count)
    public static let formatErrorRate = Metric("format_error_rate", .rate)
    public static let judgeParseFailures = Metric("judge_parse_failures", .count)
    public static let meanReasoningTokens = Metric("mean_reasoning_tokens", .tokens)
    public static let meanAnswerTokens = Metric("mean_answer_tokens", .tokens)

    /// The value as the report shows a number of this kind ("–" when missing).
    public func formatted(_ value: Double?) -> String { Self.format(value, kind) }

    public static func format(_ value: Double?, _ kind: Kind) -> String {
        guard let v = value else { return "–" }
        switch kind {
        case .rate: return String(format: "%.1f%%", v * 100)
        case .tokens, .count: return String(format: "%.0f", v)
        case .nll: return String(format: "%.3f", v)
        case .score: return String(format: "%.2f", v)
        }
    }
}

extension Dictionary where Key == String, Value == Double {
    /// A summary's value of `metric`.
    public subscript(metric: Metric) -> Double? {
        get { self[metric.key] }
        set { self[metric.key] = newValue }
    }
}
