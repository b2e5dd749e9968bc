import Testing
@testable import Tensor

/// Central finite differences against the analytic gradients of an op.
///
/// The scalar checked is L = sum(f(inputs) * R) for a fixed random R, accumulated in Double so
/// that Float32 rounding in the sum does not swamp the differences. For every input that
/// requires a gradient, up to `samples` elements are perturbed by +-eps; the numeric slope
/// must match the analytic gradient within atol + rtol * |analytic|.
struct GradCheck {
    var eps: Float = 1e-2
    var atol: Double = 2e-3
    var rtol: Double = 2e-2
    var samples = 40

    struct Mismatch: CustomStringConvertible {
        var input: Int, element: Int, analytic: Double, numeric: Double
        var description: String { "input \(input) element \(element): analytic \(analytic), numeric \(numeric)" }
    }

    /// Returns the mismatches (empty when the op's backward agrees with finite differences).
    /// `analyticScale` multiplies the analytic gradient: 1 for a real check; other values
    /// prove the check can fail.
    func mismatches(_ inputs: [Variable], analyticScale: Double = 1, _ f: ([Variable]) -> Variable) -> [Mismatch] {
        var rng = SplitMix64(seed: 99)
        let probe = GradMode.withNoGrad { f(inputs) }
        let r = Tensor.uniform(probe.shape, rng: &rng)
        func loss() -> Double {
            let out = GradMode.withNoGrad { f(inputs) }.value.contiguous()
            var total = 0.0
            for i in 0..<out.count { total += Double(out.data[i]) * Double(r.data[i]) }
            return total
        }
        for x in inputs { x.zeroGrad() }
        let out = f(inputs)
        out.backward(seed: r.copy())
        var bad: [Mismatch] = []
        for (index, x) in inputs.enumerated() where x.requiresGrad {
            let grad = x.grad?.contiguous() ?? Tensor(zeros: x.shape)
            let n = x.value.count
            let picks = n <= samples ? Array(0..<n) : (0..<samples).map { _ in Int(rng.next() % UInt64(n)) }
            for e in picks {
                let p = x.value.data + e
                let saved = p.pointee
                p.pointee = saved + eps
                let plus = loss()
                p.pointee = saved - eps
                let minus = loss()
                p.pointee = saved
                let numeric = (plus - minus) / (2 * Double(eps))
                let analytic = Double(grad.data[e]) * analyticScale
                if abs(numeric - analytic) > atol + rtol * abs(analytic) {
                    bad.append(Mismatch(input: index, element: e, analytic: analytic, numeric: numeric))
                }
            }
        }
        return bad
    }

    func check(_ inputs: [Variable], sourceLocation: SourceLocation = #_sourceLocation, _ f: ([Variable]) -> Variable) {
        let bad = mismatches(inputs, f)
        #expect(bad.isEmpty, "gradient mismatches: \(bad.prefix(5))", sourceLocation: sourceLocation)
    }
}

func param(_ shape: [Int], seed: UInt64, std: Float = 1) -> Variable {
    var rng = SplitMix64(seed: seed)
    return Variable(Tensor.randn(shape, std: std, rng: &rng), requiresGrad: true)
}
