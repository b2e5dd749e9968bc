/// A metric broken down by a group label, stored in `results.json` as `<prefix><group value>`
/// (for example `asr_family_dan`). Benchmarks write these keys and the report and the CLI read
/// them through the same value, so renaming one cannot leave an empty column.
public struct GroupedMetric: Sendable, Equatable {
    public let prefix: String
    public let kind: Metric.Kind
    /// Jailbreak ASR per template family.
    public static let jailbreakFamilyASR = GroupedMetric(prefix: "asr_family_", kind: .rate)
    /// Jailbreak ASR for families seen in training ("train") and held out ("held_out").
    public static let jailbreakSplitASR = GroupedMetric(prefix: "asr_", kind: .rate)
    /// XSTest refusal rate of the safe prompts per prompt type.
    public static let xstestRefusalByType = GroupedMetric(prefix: "safe_refusal_rate_", kind: .rate)

    public func key(_ group: String) -> String { prefix + group }
    /// The metric of one group value.
    public func metric(_ group: String) -> Metric { Metric(key(group), kind) }

    /// The group values present in a benchmark's summary, sorted.
    public func groups(in summary: [String: Double]) -> [String] {
        summary.keys.filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }.sorted()
    }

    /// Whether a summary key is one of this metric's breakdowns.
    public func covers(_ key: String) -> Bool { key.hasPrefix(prefix) }
}
