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

/// A softmax-regression probe: standardized features, L2 penalty, accelerated full-batch gradient
/// descent to the optimum.
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

    /// Mean over groups of the accuracy on a group of a probe fit on the other groups: how a
    /// probe does on a source it has never seen (scikit-learn's LeaveOneGroupOut, each group's
    /// accuracy weighted equally). Groups whose rest lacks a class are not left out; nil when
    /// fewer than two groups can be.
    public static func leaveOneGroupOutAccuracy(_ x: [[Double]], _ labels: [String], groups: [String], l2: Double = 1e-3, balanced: Bool = false) -> Double? {
        let left = groupsThatCanBeLeftOut(labels, groups: groups)
        guard left.count >= 2 else { return nil }
        let classes = Array(Set(labels)).sorted()
        let y = labels.map { classes.firstIndex(of: $0)! }
        let accuracies = left.map { g in
            let test = x.indices.filter { groups[$0] == g }, train = x.indices.filter { groups[$0] != g }
            let model = fit(train.map { x[$0] }, train.map { y[$0] }, classes: classes.count, l2: l2, balanced: balanced)
            return Double(test.filter { model.predict(x[$0]) == y[$0] }.count) / Double(test.count)
        }
        return accuracies.reduce(0, +) / Double(accuracies.count)
    }

    /// The groups whose rest holds every class, sorted: those a probe can be fit without.
    public static func groupsThatCanBeLeftOut(_ labels: [String], groups: [String]) -> [String] {
        let classes = Set(labels)
        return Array(Set(groups)).sorted().filter { g in Set(zip(labels, groups).filter { $0.1 != g }.map(\.0)) == classes }
    }

    /// Fits the probe; `y` holds class indices in 0..<k. Accelerated gradient descent (FISTA's
    /// momentum) with step 1/L, L bounding the objective's curvature: the softmax loss's Hessian
    /// in the logits is at most 1/2, so L = 1/2 * the largest class weight * the largest
    /// eigenvalue of the standardized rows' [Z 1]^T [Z 1] / n (power iteration), plus l2. A fixed
    /// step much above 2/L makes gradient descent oscillate, and the fit then depends on rounding.
    /// Rows are kept as one flat [n, d] buffer and the weights as [k, d].
    public static func fit(_ x: [[Double]], _ y: [Int], classes k: Int, steps: Int = 500, l2: Double = 1e-3, balanced: Bool = false) -> Model {
        let d = x[0].count, n = x.count
        let mean = Matrix.mean(x)
        let scale = (0..<d).map { j in max(sqrt(x.reduce(0) { $0 + ($1[j] - mean[j]) * ($1[j] - mean[j]) } / Double(n)), 1e-8) }
        let z = UnsafeMutableBufferPointer<Double>.allocate(capacity: n * d)   // [n, d], columns of mean 0
        defer { z.deallocate() }
        for (i, r) in x.enumerated() { for j in 0..<d { z[i * d + j] = (r[j] - mean[j]) / scale[j] } }
        let counts = (0..<k).map { c in y.filter { $0 == c }.count }
        let classWeight = (0..<k).map { balanced && counts[$0] > 0 ? Double(n) / (Double(k) * Double(counts[$0])) : 1 }

        // The largest eigenvalue of Z^T Z / n; the constant column adds an eigenvalue of 1
        // (Z's columns have mean 0, so [Z 1]^T [Z 1] is block-diagonal).
        var v = [Double](repeating: 1 / Double(d).squareRoot(), count: d), u = [Double](repeating: 0, count: n)
        var lambda = 0.0
        for _ in 0..<50 {
            for i in 0..<n { var s = 0.0; for j in 0..<d { s += z[i * d + j] * v[j] }; u[i] = s }
            var next = [Double](repeating: 0, count: d)
            for i in 0..<n { for j in 0..<d { next[j] += z[i * d + j] * u[i] } }
            lambda = Matrix.dot(next, next).squareRoot() / Double(n)
            guard lambda > 0 else { break }
            v = next.map { $0 / (lambda * Double(n)) }
        }
        // 1.1: power iteration approaches the eigenvalue from below.
        let step = 1 / (0.5 * classWeight.max()! * max(lambda, 1) * 1.1 + l2)

        // The mean weighted loss's gradient plus l2 * w at (w, b), into (gw, gb).
        var gw = [Double](repeating: 0, count: k * d), gb = [Double](repeating: 0, count: k), e = [Double](repeating: 0, count: k)
        func gradient(_ w: UnsafeBufferPointer<Double>, _ b: [Double]) {
            gw.withUnsafeMutableBufferPointer { gw in
                gw.update(repeating: 0)
                for c in 0..<k { gb[c] = 0 }
                for (row, label) in y.enumerated() {
                    let zr = z.baseAddress! + row * d
                    for c in 0..<k {
                        let wc = w.baseAddress! + c * d
                        var s = 0.0
                        for j in 0..<d { s += wc[j] * zr[j] }
                        e[c] = s + b[c]
                    }
                    let mx = e.max()!
                    var total = 0.0
                    for c in 0..<k { e[c] = exp(e[c] - mx); total += e[c] }
                    for c in 0..<k {
                        let g = classWeight[label] * (e[c] / total - (c == label ? 1 : 0))
                        gb[c] += g
                        let gc = gw.baseAddress! + c * d
                        for j in 0..<d { gc[j] += g * zr[j] }
                    }
                }
                for i in gw.indices { gw[i] = gw[i] / Double(n) + l2 * w[i] }
            }
            for c in 0..<k { gb[c] /= Double(n) }
        }

        var w = [Double](repeating: 0, count: k * d), b = [Double](repeating: 0, count: k)   // the iterate
        var pw = w, pb = b   // the point the gradient is taken at
        var t = 1.0
        for _ in 0..<steps {
            pw.withUnsafeBufferPointer { gradient($0, pb) }
            let nw = zip(pw, gw).map { $0 - step * $1 }, nb = zip(pb, gb).map { $0 - step * $1 }
            let nt = (1 + (1 + 4 * t * t).squareRoot()) / 2
            let m = (t - 1) / nt
            pw = zip(nw, w).map { $0 + m * ($0 - $1) }
            pb = zip(nb, b).map { $0 + m * ($0 - $1) }
            w = nw; b = nb; t = nt
        }
        return Model(mean: mean, scale: scale, weights: (0..<k).map { Array(w[$0 * d..<($0 + 1) * d]) }, bias: b)
    }
}
