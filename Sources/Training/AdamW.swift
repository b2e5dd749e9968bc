import Tensor

/// AdamW (Loshchilov and Hutter): Adam with weight decay decoupled from the gradient, as
/// torch.optim.AdamW computes it:
///   p -= lr * wd * p;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
///   p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
public final class AdamW {
    public var beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8, weightDecay: Float
    public private(set) var step = 0
    /// First and second moments by parameter name.
    var m: [String: Tensor] = [:], v: [String: Tensor] = [:]

    public init(weightDecay: Float = 0) { self.weightDecay = weightDecay }

    public func update(_ parameters: [String: Variable], lr: Float) {
        step += 1
        let c1 = 1 - powf(beta1, Float(step)), c2 = 1 - powf(beta2, Float(step))
        for (name, p) in parameters {
            guard let g = p.grad?.contiguous() else { continue }
            let mt = m[name] ?? Tensor(zeros: p.value.shape), vt = v[name] ?? Tensor(zeros: p.value.shape)
            m[name] = mt; v[name] = vt
            let w = p.value.data, gp = g.data, mp = mt.data, vp = vt.data
            let b1 = beta1, b2 = beta2, e = eps, decay = 1 - lr * weightDecay
            Parallel.forRanges(p.value.count, minPerThread: 1 << 14) { r in
                for i in r {
                    w[i] *= decay
                    mp[i] = b1 * mp[i] + (1 - b1) * gp[i]
                    vp[i] = b2 * vp[i] + (1 - b2) * gp[i] * gp[i]
                    w[i] -= lr * (mp[i] / c1) / ((vp[i] / c2).squareRoot() + e)
                }
            }
        }
    }

    /// The moments as tensors for a checkpoint ("exp_avg.<name>", "exp_avg_sq.<name>").
    public func stateTensors() -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (k, t) in m { out["exp_avg." + k] = t }
        for (k, t) in v { out["exp_avg_sq." + k] = t }
        return out
    }

    public func restore(step: Int, tensors: [String: Tensor]) {
        self.step = step
        m = [:]; v = [:]
        for (k, t) in tensors {
            if k.hasPrefix("exp_avg_sq.") { v[String(k.dropFirst("exp_avg_sq.".count))] = t } else if k.hasPrefix("exp_avg.") { m[String(k.dropFirst("exp_avg.".count))] = t }
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// The global L2 norm of all gradients (Double accumulation), and scaling them to a maximum.
public enum GradientClipping {
    public static func globalNorm(_ parameters: [String: Variable]) -> Double {
        var total = 0.0
        for p in parameters.values {
            guard let g = p.grad?.contiguous() else { continue }
            var s = 0.0
            for i in 0..<g.count { s += Double(g.data[i]) * Double(g.data[i]) }
            total += s
        }
        return total.squareRoot()
    }

    /// Scales gradients so their global norm is at most `maxNorm` (torch's clip_grad_norm_).
    public static func clip(_ parameters: [String: Variable], norm: Double, maxNorm: Double) {
        guard maxNorm > 0, norm > maxNorm else { return }
        let scale = Float(maxNorm / (norm + 1e-6))
        for p in parameters.values {
            guard let g = p.grad else { continue }
            Elementwise.scale(g.data, scale, g.data, n: g.count)
        }
    }
}
