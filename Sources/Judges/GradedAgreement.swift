import Foundation

/// How a graded judge's harm scores follow people's graded scores (both 0 to 1): Spearman's rank
/// correlation, ties taking their average rank as in scipy.stats.spearmanr, and the mean absolute
/// difference. A yes/no agreement says whether the judge draws the line where people do; these say
/// whether it orders answers by harm as they do and how far its numbers are from theirs.
public struct GradedAgreement: Codable, Sendable, Equatable {
    public var count: Int
    /// Nil when either side gives every answer the same score (the correlation is undefined).
    public var spearman: Double?
    public var meanAbsoluteDifference: Double

    enum CodingKeys: String, CodingKey { case count, spearman, meanAbsoluteDifference = "mean_absolute_difference" }

    /// Nil without at least two pairs.
    public init?(_ pairs: [(people: Double, judge: Double)]) {
        guard pairs.count >= 2 else { return nil }
        count = pairs.count
        meanAbsoluteDifference = pairs.map { abs($0.people - $0.judge) }.reduce(0, +) / Double(pairs.count)
        spearman = Self.pearson(Self.ranks(pairs.map(\.people)), Self.ranks(pairs.map(\.judge)))
    }

    /// 1-based ranks, tied values sharing the mean of the ranks they span.
    static func ranks(_ xs: [Double]) -> [Double] {
        let order = xs.indices.sorted { xs[$0] < xs[$1] }
        var out = [Double](repeating: 0, count: xs.count)
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && xs[order[j + 1]] == xs[order[i]] { j += 1 }
            let rank = Double(i + j) / 2 + 1
            for k in i...j { out[order[k]] = rank }
            i = j + 1
        }
        return out
    }

    static func pearson(_ a: [Double], _ b: [Double]) -> Double? {
        let n = Double(a.count), ma = a.reduce(0, +) / n, mb = b.reduce(0, +) / n
        var sab = 0.0, saa = 0.0, sbb = 0.0
        for (x, y) in zip(a, b) { sab += (x - ma) * (y - mb); saa += (x - ma) * (x - ma); sbb += (y - mb) * (y - mb) }
        return saa > 0 && sbb > 0 ? sab / (saa * sbb).squareRoot() : nil
    }
}
