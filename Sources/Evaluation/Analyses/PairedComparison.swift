import Foundation

/// A rate the report can check for noise: the mean of one 0/1 per-example score over a
/// benchmark's examples, optionally those with one group label (held-out jailbreak families,
/// XSTest's safe prompts).
public struct ExampleRate: Sendable {
    public var title: String
    public var benchmark: String
    public var score: String
    public var group: (key: String, value: String)?

    public init(_ title: String, _ benchmark: String, _ score: String, group: (key: String, value: String)? = nil) {
        self.title = title; self.benchmark = benchmark; self.score = score; self.group = group
    }

    /// Each counted example's score, by example id.
    func outcomes(_ model: ReportModel) -> [String: Bool] {
        var out: [String: Bool] = [:]
        for r in model.examples where r.benchmark == benchmark {
            if let g = group, r.example.groups[g.key] != g.value { continue }
            if let s = r.scores[score] { out[r.example.id] = s >= 0.5 }
        }
        return out
    }

    /// The frontier plot's two axes.
    public static let heldOutJailbreakASR = ExampleRate("Jailbreak ASR, held-out families", "jailbreak", "unsafe", group: ("split", "held_out"))
    public static let safeRefusal = ExampleRate("XSTest safe: refusal", "xstest", "refusal", group: ("label", "safe"))

    /// The same rates as the report's main table, from the examples behind them.
    public static let reported: [ExampleRate] = [
        ExampleRate("HarmBench ASR", "harmbench", "unsafe"),
        ExampleRate("JailbreakBench ASR", "jailbreakbench", "unsafe"),
        ExampleRate("Jailbreak ASR, seen families", "jailbreak", "unsafe", group: ("split", "train")),
        heldOutJailbreakASR,
        safeRefusal,
        ExampleRate("XSTest unsafe: compliance", "xstest", "compliance", group: ("label", "unsafe")),
        ExampleRate("GSM8K accuracy", "gsm8k", "correct"),
    ]
}

/// How sure a small evaluation can be: a rate's 95% interval, and whether two models evaluated on
/// the same prompts differ by more than chance (the exact McNemar test on the prompts where they
/// disagree). With 30 HarmBench prompts one prompt is 3.3 points; these say which gaps are real.
public struct PairedComparison: Sendable, Equatable {
    /// Examples both models were scored on.
    public var count: Int
    public var focusRate: Double
    public var otherRate: Double
    /// Examples where only the focus model scored 1, and where only the other did.
    public var focusOnly: Int
    public var otherOnly: Int
    /// Two-sided exact McNemar p-value.
    public var p: Double

    /// Compares `focus` with `other` on the examples both have for `rate`; nil when none.
    public static func compare(_ focus: ReportModel, _ other: ReportModel, on rate: ExampleRate) -> PairedComparison? {
        let a = rate.outcomes(focus), b = rate.outcomes(other)
        let ids = a.keys.filter { b[$0] != nil }
        guard !ids.isEmpty else { return nil }
        var ones = (0, 0), only = (0, 0)
        for id in ids {
            let x = a[id]!, y = b[id]!
            if x { ones.0 += 1 }
            if y { ones.1 += 1 }
            if x && !y { only.0 += 1 } else if y && !x { only.1 += 1 }
        }
        let n = Double(ids.count)
        return PairedComparison(count: ids.count, focusRate: Double(ones.0) / n, otherRate: Double(ones.1) / n,
                                focusOnly: only.0, otherOnly: only.1, p: Self.mcnemarP(only.0, only.1))
    }

    /// Exact McNemar test: under "no difference" each of the b + c discordant examples goes
    /// either way with probability 1/2, so p = min(1, 2 P(X <= min(b, c))), X ~ Binomial(b + c, 1/2)
    /// (scipy.stats.binomtest(min(b, c), b + c, 0.5).pvalue).
    public static func mcnemarP(_ b: Int, _ c: Int) -> Double {
        let n = b + c
        guard n > 0 else { return 1 }
        var tail = 0.0
        for i in 0...min(b, c) { tail += exp(logChoose(n, i) - Double(n) * log(2)) }
        return min(1, 2 * tail)
    }

    static func logChoose(_ n: Int, _ k: Int) -> Double {
        lgamma(Double(n + 1)) - lgamma(Double(k + 1)) - lgamma(Double(n - k + 1))
    }

    /// 95% Wilson score interval of k successes in n trials (scipy's
    /// `binomtest(k, n).proportion_ci(0.95, method="wilson")`): unlike p ± 1.96 SE it stays inside
    /// [0, 1] and is not empty at 0 of n.
    public static func wilson(_ k: Int, _ n: Int) -> (low: Double, high: Double) {
        guard n > 0 else { return (0, 1) }
        let z = 1.959963984540054, nn = Double(n), p = Double(k) / nn
        let denominator = 1 + z * z / nn
        let center = (p + z * z / (2 * nn)) / denominator
        let half = z / denominator * (p * (1 - p) / nn + z * z / (4 * nn * nn)).squareRoot()
        return (max(0, center - half), min(1, center + half))
    }
}
