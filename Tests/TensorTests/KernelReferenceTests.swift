import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import Tensor

/// Forward kernels against straightforward double-precision implementations.
@Suite struct KernelReferenceTests {
    @Test func vectorExpIsAccurate() {
        var worst: Double = 0
        var x: Float = -87
        while x < 88 {
            let v = SIMDMath.exp(Vec8(repeating: x))[0]
            worst = max(worst, abs(Double(v) - Foundation_exp(Double(x))) / Foundation_exp(Double(x)))
            x += 0.0137
        }
        #expect(worst < 5e-7)
        #expect(SIMDMath.exp(Vec8(repeating: -1000))[0] < 1e-37)
    }

    /// Softmax attention written out with loops: o[b,i,h] = sum_j p_ij v[b,j,h/g].
    func naiveAttention(q: Tensor, k: Tensor, v: Tensor, keyStart: [Int]?) -> [Double] {
        let B = q.shape[0], T = q.shape[1], H = q.shape[2], D = q.shape[3], S = k.shape[1], Hkv = k.shape[2]
        var out = [Double](repeating: 0, count: q.count)
        for b in 0..<B { for h in 0..<H { for i in 0..<T {
            let kvh = h / (H / Hkv)
            let lo = keyStart?[b] ?? 0, hi = min(S, i + S - T + 1)
            let visible = lo < hi ? Array(lo..<hi) : []
            if visible.isEmpty { continue }
            var scores = visible.map { j -> Double in
                var s = 0.0
                for d in 0..<D { s += Double(q[index: [b, i, h, d]]) * Double(k[index: [b, j, kvh, d]]) }
                return s / Double(D).squareRoot()
            }
            let m = scores.max()!
            scores = scores.map { Foundation_exp($0 - m) }
            let z = scores.reduce(0, +)
            for d in 0..<D {
                var acc = 0.0
                for (idx, j) in visible.enumerated() { acc += scores[idx] / z * Double(v[index: [b, j, kvh, d]]) }
                out[((b * T + i) * H + h) * D + d] = acc
            }
        } } }
        return out
    }

    /// Up to 4 query rows take the decoding path (C products: 8 keys per reduction, 64-wide
    /// output blocks, 8-wide remainders, scalar head sizes), more take the BLAS path.
    @Test(arguments: [(7, 7, 6, 2, nil, 16), (2, 9, 4, 4, nil, 16), (5, 5, 3, 1, [0, 3], 16),
                      (1, 37, 9, 3, [0, 5], 64), (3, 21, 6, 2, [2, 0], 88), (1, 13, 4, 2, nil, 12)] as [(Int, Int, Int, Int, [Int]?, Int)])
    func attentionMatchesNaive(t: Int, s: Int, hq: Int, hkv: Int, keyStart: [Int]?, d: Int) {
        var rng = SplitMix64(seed: 3)
        let q = Tensor.randn([2, t, hq, d], rng: &rng), k = Tensor.randn([2, s, hkv, d], rng: &rng), v = Tensor.randn([2, s, hkv, d], rng: &rng)
        let out = Ops.attention(q: Variable(q), k: Variable(k), v: Variable(v), keyStart: keyStart).value
        let ref = naiveAttention(q: q, k: k, v: v, keyStart: keyStart)
        let worst = zip(out.scalars, ref).map { abs(Double($0) - $1) }.max()!
        #expect(worst < 1e-5)
    }

    @Test func attentionAtLongContextStaysStable() {
        // Large logits: without the max subtraction exp would overflow.
        var rng = SplitMix64(seed: 4)
        let q = Tensor.randn([1, 300, 2, 8], std: 30, rng: &rng), k = Tensor.randn([1, 300, 1, 8], std: 30, rng: &rng)
        let v = Tensor.randn([1, 300, 1, 8], rng: &rng)
        let out = Ops.attention(q: Variable(q), k: Variable(k), v: Variable(v)).value
        #expect(out.scalars.allSatisfy { $0.isFinite })
        let ref = naiveAttention(q: q, k: k, v: v, keyStart: nil)
        // Scores reach ~1e3 here, whose Float32 rounding (ulp 6e-5) bounds the agreement.
        #expect(zip(out.scalars, ref).map { abs(Double($0) - $1) }.max()! < 1e-3)
    }

    @Test func rmsNormMatchesFormula() {
        var rng = SplitMix64(seed: 5)
        let x = Tensor.randn([3, 10], rng: &rng), w = Tensor.randn([10], rng: &rng)
        let y = Ops.rmsNorm(Variable(x), weight: Variable(w), eps: 1e-5).value
        for r in 0..<3 {
            var ms = 0.0
            for j in 0..<10 { ms += Double(x[index: [r, j]]) * Double(x[index: [r, j]]) }
            let rstd = 1 / (ms / 10 + 1e-5).squareRoot()
            for j in 0..<10 { #expect(abs(Double(y[index: [r, j]]) - Double(x[index: [r, j]]) * rstd * Double(w[index: [j]])) < 1e-5) }
        }
    }

    @Test func ropeRotatesHalvesByPositionAngle() {
        // One head of dim 4 at position 3: pairs (x0, x2) and (x1, x3) rotate by 3*f0 and 3*f1.
        let inv = Rope.inverseFrequencies(headDim: 4, theta: 10000)
        #expect(inv == [1, 0.01])
        let (cos, sin) = Rope.angles(positions: [3], inverseFrequencies: inv)
        let y = Ops.rope(Variable(Tensor([1, 2, 3, 4], shape: [1, 1, 1, 4])), cos: cos, sin: sin).value.scalars
        let a0 = 3.0, a1 = 0.03
        let expected = [1 * Foundation_cos(a0) - 3 * Foundation_sin(a0), 2 * Foundation_cos(a1) - 4 * Foundation_sin(a1),
                        3 * Foundation_cos(a0) + 1 * Foundation_sin(a0), 4 * Foundation_cos(a1) + 2 * Foundation_sin(a1)]
        for i in 0..<4 { #expect(abs(Double(y[i]) - expected[i]) < 1e-6) }
    }

    @Test func llama3FrequencyScalingBands() {
        // theta 10000, D 8: wavelengths 6.28, 62.8, 628, 6283 against original context 16,
        // high-frequency cutoff 16/4 = 4 and low-frequency cutoff 16/1 = 16.
        let s = Rope.Llama3Scaling(factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 16)
        let inv = Rope.inverseFrequencies(headDim: 8, theta: 10000, llama3: s)
        let smooth = (16 / (2 * Double.pi) - 1) / 3
        #expect(abs(Double(inv[0]) - ((1 - smooth) / 8 + smooth)) < 1e-6)
        #expect(abs(Double(inv[1]) - 0.1 / 8) < 1e-8)
        #expect(abs(Double(inv[3]) - 0.001 / 8) < 1e-9)
    }

    @Test func crossEntropyMatchesPyTorchExpression() {
        // torch.nn.functional.cross_entropy(torch.tensor([[1., 2., 3.], [1., 1., 1.]]),
        //                                   torch.tensor([2, 0])) == 0.7531 (mean of 0.4076 and 1.0986)
        let logits = Variable(Tensor([1, 2, 3, 1, 1, 1], shape: [2, 3]))
        let loss = Ops.crossEntropy(logits, targets: [2, 0]).value.scalars[0]
        #expect(abs(loss - 0.753_109) < 1e-5)
        // With ignore_index=-100 on the second row only the first counts: 0.407606.
        let ignored = Ops.crossEntropy(logits, targets: [2, -100]).value.scalars[0]
        #expect(abs(ignored - 0.407_606) < 1e-5)
    }
}

@inline(__always) func Foundation_exp(_ x: Double) -> Double { exp(x) }
@inline(__always) func Foundation_cos(_ x: Double) -> Double { cos(x) }
@inline(__always) func Foundation_sin(_ x: Double) -> Double { sin(x) }
