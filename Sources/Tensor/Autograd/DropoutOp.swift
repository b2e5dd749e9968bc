extension Ops {
    /// Inverted dropout: each element is zeroed with probability p and the rest scaled by
    /// 1 / (1 - p), so the expected value is unchanged. The mask comes from `rng`, which the
    /// caller owns (and checkpoints) so that a resumed run draws the same masks.
    public static func dropout(_ x: Variable, p: Float, rng: inout SplitMix64) -> Variable {
        if p <= 0 { return x }
        precondition(p < 1, "dropout probability \(p) must be below 1")
        let xv = x.value.contiguous()
        let mask = Tensor(uninitialized: xv.shape)
        let keep = 1 / (1 - p)
        for i in 0..<mask.count { mask.data[i] = rng.nextFloat() < p ? 0 : keep }
        let out = Tensor(uninitialized: xv.shape)
        Elementwise.mul(xv.data, mask.data, out.data, n: out.count)
        return Variable(result: out, parents: [x]) { [unowned x] g in
            let gc = g.contiguous()
            let gx = Tensor(uninitialized: xv.shape)
            Elementwise.mul(gc.data, mask.data, gx.data, n: gx.count)
            x.accumulateGrad(gx, owned: true)
        }
    }
}
