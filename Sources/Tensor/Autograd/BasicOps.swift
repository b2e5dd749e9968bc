/// Shape and arithmetic ops on variables.
extension Variable {
    /// Same elements, new shape (a view of the value; the gradient is reshaped back).
    public func reshaped(_ shape: [Int]) -> Variable {
        let inShape = value.shape
        return Variable(result: value.reshaped(shape), parents: [self]) { [unowned self] g in
            self.accumulateGrad(g.reshaped(inShape))
        }
    }

    /// a + b, same shapes (the residual connection).
    public static func + (a: Variable, b: Variable) -> Variable {
        precondition(a.shape == b.shape, "add: shapes \(a.shape) and \(b.shape) differ")
        let x = a.value.contiguous(), y = b.value.contiguous()
        let out = Tensor(uninitialized: a.shape)
        Elementwise.add(x.data, y.data, out.data, n: out.count)
        return Variable(result: out, parents: [a, b]) { [unowned a, unowned b] g in
            a.accumulateGrad(g)
            b.accumulateGrad(g)
        }
    }

    /// a * b elementwise, same shapes.
    public static func * (a: Variable, b: Variable) -> Variable {
        precondition(a.shape == b.shape, "mul: shapes \(a.shape) and \(b.shape) differ")
        let x = a.value.contiguous(), y = b.value.contiguous()
        let out = Tensor(uninitialized: a.shape)
        Elementwise.mul(x.data, y.data, out.data, n: out.count)
        return Variable(result: out, parents: [a, b]) { [unowned a, unowned b] g in
            let gc = g.contiguous()
            if a.requiresGrad {
                let ga = Tensor(uninitialized: a.shape)
                Elementwise.mul(gc.data, y.data, ga.data, n: ga.count)
                a.accumulateGrad(ga, owned: true)
            }
            if b.requiresGrad {
                let gb = Tensor(uninitialized: b.shape)
                Elementwise.mul(gc.data, x.data, gb.data, n: gb.count)
                b.accumulateGrad(gb, owned: true)
            }
        }
    }

    /// alpha * a.
    public static func * (alpha: Float, a: Variable) -> Variable {
        let x = a.value.contiguous()
        let out = Tensor(uninitialized: a.shape)
        Elementwise.scale(x.data, alpha, out.data, n: out.count)
        return Variable(result: out, parents: [a]) { [unowned a] g in
            let gc = g.contiguous()
            let ga = Tensor(uninitialized: a.shape)
            Elementwise.scale(gc.data, alpha, ga.data, n: ga.count)
            a.accumulateGrad(ga, owned: true)
        }
    }

    /// The sum of all elements, as a scalar (shape []). Accumulated in Double.
    public func sum() -> Variable {
        let x = value.contiguous()
        var total: Double = 0
        for i in 0..<x.count { total += Double(x.data[i]) }
        let inShape = shape
        return Variable(result: Tensor([Float(total)], shape: []), parents: [self]) { [unowned self] g in
            self.accumulateGrad(Tensor(repeating: g.data[0], shape: inShape), owned: true)
        }
    }

    /// The mean of all elements, as a scalar.
    public func mean() -> Variable { (1 / Float(max(value.count, 1))) * sum() }

    /// Sums over the last dimension: [..., n] -> [...].
    public func sumLastDim() -> Variable {
        let x = value.contiguous()
        let n = shape.last ?? 1
        let rows = x.count / max(n, 1)
        let outShape = Array(shape.dropLast())
        let out = Tensor(uninitialized: outShape)
        for r in 0..<rows {
            var t: Double = 0
            for j in 0..<n { t += Double(x.data[r * n + j]) }
            out.data[r] = Float(t)
        }
        let inShape = shape
        return Variable(result: out, parents: [self]) { [unowned self] g in
            let gc = g.contiguous()
            let gi = Tensor(uninitialized: inShape)
            for r in 0..<rows { (gi.data + r * n).update(repeating: gc.data[r], count: n) }
            self.accumulateGrad(gi, owned: true)
        }
    }

    /// Columns `range` of the last dimension, [..., n] -> [..., range.count] (a fused
    /// projection's parts: Phi-3's q, k and v out of qkv_proj). Backward adds the gradient into
    /// those columns of the input's gradient, leaving the others as they are.
    public func columns(_ range: Range<Int>) -> Variable {
        let n = shape.last ?? 0
        let out = value.slice(-1, range).contiguous()
        let width = range.count, start = range.lowerBound
        return Variable(result: out, parents: [self]) { [unowned self] g in
            let gc = g.contiguous()
            let grad = self.zeroedGradBuffer()
            for r in 0..<(gc.count / max(width, 1)) {
                Elementwise.axpySerial(1, gc.data + r * width, grad.data + r * n + start, n: width)
            }
        }
    }
}
