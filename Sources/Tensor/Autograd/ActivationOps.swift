import Foundation

extension Ops {
    /// cap * tanh(x / cap), Gemma 2's logit soft-capping (transformers: logits / cap, tanh, * cap).
    /// Backward: dy/dx = 1 - tanh(x / cap)^2.
    public static func softcap(_ x: Variable, cap: Float) -> Variable {
        let xs = x.value.contiguous()
        let out = Tensor(uninitialized: xs.shape)
        let n = xs.count, src = xs.data, dst = out.data
        for i in 0..<n { dst[i] = cap * Foundation.tanh(src[i] / cap) }
        return Variable(result: out, parents: [x]) { [unowned x] g in
            guard x.requiresGrad else { return }
            let gc = g.contiguous()
            let dx = Tensor(uninitialized: xs.shape)
            for i in 0..<n {
                let t = out.data[i] / cap
                dx.data[i] = gc.data[i] * (1 - t * t)
            }
            x.accumulateGrad(dx, owned: true)
        }
    }

    /// gelu_tanh(gate) * up, Gemma's MLP activation (transformers' gelu_pytorch_tanh):
    /// gelu_tanh(x) = 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))).
    /// Backward: d/dx = 0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2 / pi) (1 + 3 * 0.044715 x^2).
    public static func gegluTanh(gate: Variable, up: Variable) -> Variable {
        precondition(gate.shape == up.shape, "geglu: gate \(gate.shape) and up \(up.shape) differ")
        let a = gate.value.contiguous(), b = up.value.contiguous()
        let out = Tensor(uninitialized: gate.shape)
        let n = out.count
        let c = Float((2 / Double.pi).squareRoot()), k: Float = 0.044715
        for i in 0..<n {
            let x = a.data[i]
            out.data[i] = 0.5 * x * (1 + Foundation.tanh(c * (x + k * x * x * x))) * b.data[i]
        }
        return Variable(result: out, parents: [gate, up]) { [unowned gate, unowned up] g in
            let gc = g.contiguous()
            let dgate = gate.requiresGrad ? Tensor(uninitialized: gate.shape) : nil
            let dup = up.requiresGrad ? Tensor(uninitialized: up.shape) : nil
            for i in 0..<n {
                let x = a.data[i], t = Foundation.tanh(c * (x + k * x * x * x))
                let gelu = 0.5 * x * (1 + t)
                dup?.data[i] = gc.data[i] * gelu
                dgate?.data[i] = gc.data[i] * b.data[i] * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * k * x * x))
            }
            if let dgate { gate.accumulateGrad(dgate, owned: true) }
            if let dup { up.accumulateGrad(dup, owned: true) }
        }
    }
}
