import Foundation

/// How often two raters (a judge and people, or two judges) give the same label, and Cohen's
/// kappa: that agreement beyond what each rater's own label shares would give by chance,
/// (p_o - p_e) / (1 - p_e) with p_e = sum over classes of the product of the two raters' shares.
public struct Agreement: Codable, Sendable, Equatable {
    public var count: Int
    public var agreement: Double
    public var kappa: Double
    /// confusion[first rater's label][second rater's label].
    public var confusion: [String: [String: Int]]

    public init(_ pairs: [(String, String)], classes: [String]) {
        var confusion = Dictionary(uniqueKeysWithValues: classes.map { c in (c, Dictionary(uniqueKeysWithValues: classes.map { ($0, 0) })) })
        for (a, b) in pairs { confusion[a, default: [:]][b, default: 0] += 1 }
        let n = Double(max(1, pairs.count))
        let po = Double(pairs.filter { $0.0 == $0.1 }.count) / n
        let pe = classes.reduce(0.0) { s, c in
            s + Double(confusion[c]!.values.reduce(0, +)) / n * Double(classes.map { confusion[$0]![c]! }.reduce(0, +)) / n
        }
        self.count = pairs.count
        self.agreement = po
        // Both raters gave one label only: agreement is all there is (kappa is undefined; 1 when
        // they agree, 0 when not).
        self.kappa = pe < 1 ? (po - pe) / (1 - pe) : (po == 1 ? 1 : 0)
        self.confusion = confusion
    }
}
