import Testing
@testable import Tensor

/// Every differentiable op's backward against central finite differences.
@Suite struct OpGradientTests {
    let check = GradCheck()

    @Test func checkerDetectsAWrongGradient() {
        // The same linear op with its analytic gradient scaled by 1.5 must be reported.
        let x = param([3, 5], seed: 1), w = param([4, 5], seed: 2)
        let bad = check.mismatches([x, w], analyticScale: 1.5) { Ops.linear($0[0], weight: $0[1]) }
        #expect(bad.count > 10)
    }

    @Test func linearWithBias() {
        check.check([param([2, 3, 5], seed: 1), param([4, 5], seed: 2), param([4], seed: 3)]) {
            Ops.linear($0[0], weight: $0[1], bias: $0[2])
        }
    }

    @Test func linearWithFrozenWeightSkipsItsGradient() {
        let x = param([3, 5], seed: 1)
        var rng = SplitMix64(seed: 2)
        let w = Variable(Tensor.randn([4, 5], rng: &rng), requiresGrad: false)
        check.check([x]) { Ops.linear($0[0], weight: w) }
        let y = Ops.linear(x, weight: w).sum()
        y.backward()
        #expect(w.grad == nil)
        #expect(x.grad != nil)
    }

    @Test func loraLinear() {
        // Trainable base, bias and both adapter matrices; then the frozen-base case.
        check.check([param([2, 3, 6], seed: 40), param([5, 6], seed: 41), param([5], seed: 42), param([2, 6], seed: 43), param([5, 2], seed: 44)]) {
            Ops.loraLinear($0[0], weight: $0[1], bias: $0[2], a: $0[3], b: $0[4], scale: 1.5)
        }
        var rng = SplitMix64(seed: 45)
        let frozen = Variable(Tensor.randn([5, 6], rng: &rng))
        check.check([param([4, 6], seed: 46), param([3, 6], seed: 47), param([5, 3], seed: 48)]) {
            Ops.loraLinear($0[0], weight: frozen, bias: nil, a: $0[1], b: $0[2], scale: 0.5)
        }
        // With a separate adapter input (dropout's output): gradients reach x through both paths.
        check.check([param([4, 6], seed: 49), param([3, 6], seed: 50), param([5, 3], seed: 51)]) {
            Ops.loraLinear($0[0], weight: frozen, bias: nil, a: $0[1], b: $0[2], scale: 0.5, adapterInput: 2 * $0[0])
        }
    }

    @Test func dropoutKeepsExpectationAndMasksGradient() {
        var rng = SplitMix64(seed: 52)
        let x = Variable(Tensor(repeating: 1, shape: [20000]), requiresGrad: true)
        let y = Ops.dropout(x, p: 0.25, rng: &rng)
        let kept = y.value.scalars.filter { $0 != 0 }
        #expect(abs(Double(kept.count) / 20000 - 0.75) < 0.02)
        #expect(kept.allSatisfy { abs($0 - 4.0 / 3.0) < 1e-6 })
        y.sum().backward()
        #expect(x.grad!.scalars == y.value.scalars)
    }

    /// A fused projection's parts (used together, as Phi-3 uses q, k and v), rows picked out
    /// of a matrix (one twice, as the loss's positions may be) and sums of consecutive runs.
    @Test func columnsRowsAndSegmentSums() {
        check.check([param([2, 3, 10], seed: 60)]) { x in
            let parts = [x[0].columns(0..<4), x[0].columns(4..<7), x[0].columns(7..<10)]
            return parts[0].columns(0..<3) * parts[1] + parts[2] * parts[2]
        }
        check.check([param([6, 5], seed: 61)]) { $0[0].rows([4, 0, 4, 2]) }
        check.check([param([7], seed: 62)]) { x in
            let sums = x[0].segmentSums([3, 0, 4])
            return sums * sums
        }
    }

    @Test func rmsNorm() {
        check.check([param([2, 3, 16], seed: 4), param([16], seed: 5)]) { Ops.rmsNorm($0[0], weight: $0[1], eps: 1e-5) }
    }

    @Test func rope() {
        let inv = Rope.inverseFrequencies(headDim: 8, theta: 10000)
        let (cos, sin) = Rope.angles(positions: [0, 1, 2, 7, 3, 4, 5, 100], inverseFrequencies: inv)
        check.check([param([2, 4, 3, 8], seed: 6)]) { Ops.rope($0[0], cos: cos, sin: sin) }
    }

    @Test func siluAndSwiglu() {
        check.check([param([3, 19], seed: 7)]) { Ops.silu($0[0]) }
        check.check([param([3, 19], seed: 8), param([3, 19], seed: 9)]) { Ops.swiglu(gate: $0[0], up: $0[1]) }
    }

    @Test(arguments: [(5, 5, 4, 2), (3, 7, 4, 1), (6, 6, 2, 2), (1, 9, 3, 3)])
    func attention(t: Int, s: Int, hq: Int, hkv: Int) {
        let q = param([2, t, hq, 8], seed: 10), k = param([2, s, hkv, 8], seed: 11), v = param([2, s, hkv, 8], seed: 12)
        check.check([q, k, v]) { Ops.attention(q: $0[0], k: $0[1], v: $0[2]) }
    }

    @Test func attentionAcrossQueryBlocks() {
        // 130 rows: two blocks of query rows with different causal key limits.
        let q = param([1, 130, 2, 4], seed: 60, std: 0.5), k = param([1, 130, 1, 4], seed: 61, std: 0.5), v = param([1, 130, 1, 4], seed: 62)
        check.check([q, k, v]) { Ops.attention(q: $0[0], k: $0[1], v: $0[2]) }
    }

    @Test func attentionWithLeftPadding() {
        let q = param([2, 6, 2, 8], seed: 13), k = param([2, 6, 1, 8], seed: 14), v = param([2, 6, 1, 8], seed: 15)
        check.check([q, k, v]) { Ops.attention(q: $0[0], k: $0[1], v: $0[2], keyStart: [0, 2]) }
    }

    /// Gemma 2's attention: its own scale, scores capped at 1.5 (tight enough to bend them) and
    /// a window of 3 keys, over one block and across two blocks of query rows.
    @Test(arguments: [(7, 7), (130, 130), (3, 7)])
    func attentionWithSoftcapAndSlidingWindow(t: Int, s: Int) {
        let q = param([1, t, 2, 4], seed: 63, std: 1.5), k = param([1, s, 1, 4], seed: 64, std: 1.5), v = param([1, s, 1, 4], seed: 65)
        let options = AttentionOptions(scale: 0.3, softcap: 1.5, window: 3)
        check.check([q, k, v]) { Ops.attention(q: $0[0], k: $0[1], v: $0[2], options: options) }
    }

    @Test func softcapAndGegluTanh() {
        check.check([param([3, 19], seed: 66, std: 3)]) { Ops.softcap($0[0], cap: 2) }
        check.check([param([3, 19], seed: 67, std: 2), param([3, 19], seed: 68)]) { Ops.gegluTanh(gate: $0[0], up: $0[1]) }
    }

    @Test func embeddingWithRepeatedIds() {
        check.check([param([7, 6], seed: 16)]) { Ops.embedding($0[0], ids: [1, 3, 1, 6, 0, 1]) }
    }

    @Test func logSoftmax() {
        check.check([param([4, 11], seed: 17)]) { Ops.logSoftmax($0[0]) }
    }

    @Test func crossEntropyWithIgnoredRows() {
        check.check([param([5, 13], seed: 18, std: 2)]) { Ops.crossEntropy($0[0], targets: [3, -100, 12, 0, -100]) }
    }

    @Test func sequenceLogProbs() {
        check.check([param([2, 4, 9], seed: 19)]) { Ops.sequenceLogProbs($0[0], targets: [1, 2, -100, 8, 0, -100, -100, 5]) }
    }

    @Test func elementwiseAndReductions() {
        check.check([param([3, 4], seed: 20), param([3, 4], seed: 21)]) { $0[0] + $0[1] }
        check.check([param([3, 4], seed: 22), param([3, 4], seed: 23)]) { $0[0] * $0[1] }
        check.check([param([3, 4], seed: 24)]) { 0.37 * $0[0] }
        check.check([param([3, 4], seed: 25)]) { $0[0].sumLastDim() }
        check.check([param([3, 4], seed: 26)]) { $0[0].mean() }
        check.check([param([3, 4], seed: 27)]) { $0[0].reshaped([2, 6]) * $0[0].reshaped([2, 6]) }
    }

    @Test func sharedInputAccumulatesFromEveryUse() {
        // y = x*x + x: dy/dx = 2x + 1, exercising accumulation into one variable from two ops.
        let x = Variable(Tensor([1, -2, 3], shape: [3]), requiresGrad: true)
        (x * x + x).sum().backward()
        #expect(x.grad!.scalars == [3, -3, 7])
    }

    @Test func gradientsAccumulateAcrossBackwardCalls() {
        let x = Variable(Tensor([1, 2], shape: [2]), requiresGrad: true)
        (3 * x).sum().backward()
        (3 * x).sum().backward()
        #expect(x.grad!.scalars == [6, 6])
        x.zeroGrad()
        #expect(x.grad == nil)
    }

    @Test func noGradModeRecordsNothing() {
        let x = param([2, 3], seed: 28)
        let y = GradMode.withNoGrad { Ops.silu(x) }
        #expect(!y.requiresGrad)
        #expect(y.isLeaf)
    }
}
