import Foundation
import Judges

/// Embedding-space analysis: mean-pooled hidden states of harmful, jailbreak and benign
/// prompts, projected to 2-D by PCA, with separability figures (linear-probe accuracy under
/// k-fold cross-validation, distances between the kinds' centroids).
public struct EmbeddingAnalysis: Codable, Sendable {
    public struct Point: Codable, Sendable, Equatable { public var x: Double; public var y: Double; public var kind: String }

    public var label: String
    public var layer: Int
    public var points: [Point]
    /// Share of variance the two components explain.
    public var explainedVariance: [Double]
    /// Cross-validated accuracy of a softmax-regression probe on the full vectors.
    public var probeAccuracy: Double
    /// Euclidean distance between kind centroids ("harmful-benign": ...), in units of the
    /// mean within-kind spread, so models of different scale compare.
    public var centroidDistances: [String: Double]

    enum CodingKeys: String, CodingKey {
        case label, layer, points, explainedVariance = "explained_variance", probeAccuracy = "probe_accuracy", centroidDistances = "centroid_distances"
    }

    public static func analyze(label: String, layer: Int, vectors: [[Double]], kinds: [String], folds: Int = 5) -> EmbeddingAnalysis {
        let (proj, explained) = PCA.project(vectors, components: 2)
        let points = zip(proj, kinds).map { Point(x: $0.0[0], y: $0.0.count > 1 ? $0.0[1] : 0, kind: $0.1) }
        return EmbeddingAnalysis(label: label, layer: layer, points: points, explainedVariance: explained,
                                 probeAccuracy: LinearProbe.crossValidatedAccuracy(vectors, kinds, folds: folds),
                                 centroidDistances: centroidDistances(vectors, kinds))
    }

    static func centroidDistances(_ x: [[Double]], _ kinds: [String]) -> [String: Double] {
        let names = Array(Set(kinds)).sorted()
        var centroids: [String: [Double]] = [:], spread: [Double] = []
        for k in names {
            let rows = zip(x, kinds).filter { $0.1 == k }.map(\.0)
            let c = Matrix.mean(rows)
            centroids[k] = c
            spread += rows.map { Matrix.distance($0, c) }
        }
        let scale = max(spread.reduce(0, +) / Double(max(1, spread.count)), 1e-12)
        var out: [String: Double] = [:]
        for (i, a) in names.enumerated() { for b in names[(i + 1)...] { out["\(a)-\(b)"] = Matrix.distance(centroids[a]!, centroids[b]!) / scale } }
        return out
    }
}

/// Principal components by power iteration with deflation on the centered data (the data
/// matrix is n x d with n in the hundreds: X^T X v products are cheap).
public enum PCA {
    /// Projections of each row onto the top components, and each component's share of the
    /// total variance.
    public static func project(_ x: [[Double]], components k: Int) -> ([[Double]], [Double]) {
        guard let d = x.first?.count, x.count > 1 else { return (x.map { _ in [Double](repeating: 0, count: k) }, [Double](repeating: 0, count: k)) }
        let m = Matrix.mean(x)
        let c = x.map { zip($0, m).map { $0 - $1 } }
        let total = c.reduce(0) { $0 + Matrix.dot($1, $1) }
        var comps: [[Double]] = []
        var explained: [Double] = []
        for ci in 0..<min(k, d) {
            var v = (0..<d).map { j in Double((j * 7919 + ci * 104729) % 1000) / 1000 - 0.5 }
            var lambda = 0.0
            for _ in 0..<300 {
                // w = C^T C v, with earlier components projected out.
                var w = [Double](repeating: 0, count: d)
                for row in c {
                    let s = Matrix.dot(row, v)
                    for j in 0..<d { w[j] += s * row[j] }
                }
                for u in comps { let s = Matrix.dot(w, u); for j in 0..<d { w[j] -= s * u[j] } }
                let norm = sqrt(Matrix.dot(w, w))
                if norm < 1e-300 { break }
                let next = w.map { $0 / norm }
                let change = Matrix.distance(next, v)
                v = next; lambda = norm
                if change < 1e-10 { break }
            }
            comps.append(v)
            explained.append(total > 0 ? lambda / total : 0)
        }
        // A fixed sign: the largest-magnitude coordinate of each component is positive.
        comps = comps.map { u in (u.max(by: { abs($0) < abs($1) }) ?? 0) < 0 ? u.map { -$0 } : u }
        return (c.map { row in comps.map { Matrix.dot(row, $0) } }, explained)
    }
}

