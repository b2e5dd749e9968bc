import Foundation

/// Dense vector helpers for the probe and the embedding analysis.
public enum Matrix {
    public static func mean(_ rows: [[Double]]) -> [Double] {
        guard let d = rows.first?.count else { return [] }
        var m = [Double](repeating: 0, count: d)
        for r in rows { for j in 0..<d { m[j] += r[j] } }
        return m.map { $0 / Double(rows.count) }
    }

    public static func distance(_ a: [Double], _ b: [Double]) -> Double { sqrt(zip(a, b).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }) }
    public static func dot(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }
}

/// A softmax-regression probe: standardized features, L2 penalty, full-batch gradient descent.
/// The embedding analysis measures separability with it; trained judges are one.
///
/// The objective: the mean over examples of `weight[y] * -log softmax(W z + b)[y]` plus
/// `l2 / 2 * |W|^2`, where `weight` is 1 for every class or, balanced, `n / (k * count[y])`
/// (scikit-learn's `class_weight="balanced"`).
public enum LinearProbe {
    public struct Model: Codable, Sendable, Equatable {
        /// Per-feature mean and standard deviation of the training rows.
        public var mean: [Double], scale: [Double]
        /// [class][feature] weights on the standardized features, and per-class biases.
        public var weights: [[Double]], bias: [Double]

        public func logits(_ row: [Double]) -> [Double] {
            let z = zip(row, zip(mean, scale)).map { ($0 - $1.0) / $1.1 }
            return zip(weights, bias).map { Matrix.dot($0, z) + $1 }
        }

        public func probabilities(_ row: [Double]) -> [Double] {
            let l = logits(row)
            let mx = l.max() ?? 0
            let e = l.map { exp($0 - mx) }
            let s = e.reduce(0, +)
            return e.map { $0 / s }
        }

        public func predict(_ row: [Double]) -> Int {
            let l = logits(row)
            return l.indices.max { l[$0] < l[$1] }!
        }
    }

    /// Accuracy over k folds (interleaved by class, so every class is in every fold).
    public static func crossValidatedAccuracy(_ x: [[Double]], _ labels: [String], folds: Int, l2: Double = 1e-3, balanced: Bool = false) -> Double {
        let classes = Array(Set(labels)).sorted()
        guard classes.count > 1, x.count >= folds else { return 1 }
        let y = labels.map { classes.firstIndex(of: $0)! }
        let order = x.indices.sorted { (y[$0], $0) < (y[$1], $1) }
        var correct = 0
        for f in 0..<folds {
            let test = order.enumerated().filter { $0.offset % folds == f }.map(\.element)
            let testSet = Set(test)
            let train = x.indices.filter { !testSet.contains($0) }
            let model = fit(train.map { x[$0] }, train.map { y[$0] }, classes: classes.count, l2: l2, balanced: balanced)
            correct += test.filter { model.predict(x[$0]) == y[$0] }.count
        }
        return Double(correct) / Double(x.count)
    }

    /// Fits the probe; `y` holds class indices in 0..<k.
    public static func fit(_ x: [[Double]], _ y: [Int], classes k: Int, steps: Int = 300, lr: Double = 0.5, l2: Double = 1e-3, balanced: Bool = false) -> Model {
        let d = x[0].count, n = Double(x.count)
        let mean = Matrix.mean(x)
        let scale = (0..<d).map { j in max(sqrt(x.reduce(0) { $0 + ($1[j] - mean[j]) * ($1[j] - mean[j]) } / n), 1e-8) }
        let z = x.map { r in (0..<d).map { (r[$0] - mean[$0]) / scale[$0] } }
        let counts = (0..<k).map { c in y.filter { $0 == c }.count }
        let classWeight = (0..<k).map { balanced && counts[$0] > 0 ? n / (Double(k) * Double(counts[$0])) : 1 }
        var w = [[Double]](repeating: [Double](repeating: 0, count: d), count: k), b = [Double](repeating: 0, count: k)
        for _ in 0..<steps {
            var gw = [[Double]](repeating: [Double](repeating: 0, count: d), count: k), gb = [Double](repeating: 0, count: k)
            for (row, label) in zip(z, y) {
                let logits = zip(w, b).map { Matrix.dot($0, row) + $1 }
                let mx = logits.max()!
                let e = logits.map { exp($0 - mx) }
                let s = e.reduce(0, +)
                for c in 0..<k {
                    let g = classWeight[label] * (e[c] / s - (c == label ? 1 : 0))
                    gb[c] += g
                    for j in 0..<d { gw[c][j] += g * row[j] }
                }
            }
            for c in 0..<k {
                b[c] -= lr * gb[c] / n
                for j in 0..<d { w[c][j] -= lr * (gw[c][j] / n + l2 * w[c][j]) }
            }
        }
        return Model(mean: mean, scale: scale, weights: w, bias: b)
    }
}
