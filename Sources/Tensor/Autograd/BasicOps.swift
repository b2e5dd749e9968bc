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

    /// Rows `indices` of a [N, D] matrix, [indices.count, D] (the positions whose output the
    /// loss reads). Backward adds each row's gradient into the row it came from.
    public func rows(_ indices: [Int]) -> Variable {
        precondition(value.rank == 2, "rows: expects [N, D], got \(shape)")
        let x = value.contiguous()
        let d = shape[1]
        let out = Tensor(uninitialized: [indices.count, d])
        for (r, i) in indices.enumerated() { (out.data + r * d).update(from: x.data + i * d, count: d) }
        return Variable(result: out, parents: [self]) { [unowned self] g in
            let gc = g.contiguous()
            let grad = self.zeroedGradBuffer()
            for (r, i) in indices.enumerated() { Elementwise.axpySerial(1, gc.data + r * d, grad.data + i * d, n: d) }
        }
    }

    /// Sums of consecutive runs of a vector: [sum(lengths)] -> [lengths.count] (each
    /// sequence's summed log-probs when its rows sit one after another).
    public func segmentSums(_ lengths: [Int]) -> Variable {
        precondition(value.rank == 1 && lengths.reduce(0, +) == value.count, "segmentSums: lengths \(lengths.reduce(0, +)) for \(shape)")
        let x = value.contiguous()
        var starts: [Int] = [], at = 0
        for n in lengths { starts.append(at); at += n }
        let out = Tensor(uninitialized: [lengths.count])
        for (s, n) in lengths.enumerated() {
            var t: Double = 0
            for j in 0..<n { t += Double(x.data[starts[s] + j]) }
            out.data[s] = Float(t)
        }
        let count = value.count
        return Variable(result: out, parents: [self]) { [unowned self] g in
            let gc = g.contiguous()
            let gi = Tensor(uninitialized: [count])
            for (s, n) in lengths.enumerated() { (gi.data + starts[s]).update(repeating: gc.data[s], count: n) }
            self.accumulateGrad(gi, owned: true)
        }
    }
}
