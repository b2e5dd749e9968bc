#if canImport(Glibc)
import Glibc
#endif

/// Log-softmax over the last dimension of x [N, V], and its fused use in language-model
/// losses: the log-probability of one target per row, without materialising log-softmax.
public enum LogSoftmax {
    /// lse[n] = log sum_v exp(x[n, v]), computed with the row max subtracted.
    public static func logSumExp(_ x: UnsafePointer<Float>, n: Int, v: Int, lse: UnsafeMutablePointer<Float>) {
        Parallel.forRanges(n, minPerThread: max(1, 16384 / max(v, 1))) { rows in
            for r in rows {
                let row = x + r * v
                let m = SIMDMath.max(row, v)
                lse[r] = m + Float(log(SIMDMath.sumExp(row, v, shift: m)))
            }
        }
    }

    /// y = x - lse (row-wise). Writes lse [N] too.
    public static func forward(_ x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, lse: UnsafeMutablePointer<Float>, n: Int, v: Int) {
        logSumExp(x, n: n, v: v, lse: lse)
        Parallel.forRanges(n, minPerThread: max(1, 16384 / max(v, 1))) { rows in
            for r in rows { for j in 0..<v { y[r * v + j] = x[r * v + j] - lse[r] } }
        }
    }

    /// dx (+)= dy - softmax(x) * sum(dy), with softmax(x) = exp(y).
    public static func backward(y: UnsafePointer<Float>, dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, n: Int, v: Int, accumulate: Bool) {
        Parallel.forRanges(n, minPerThread: max(1, 16384 / max(v, 1))) { rows in
            for r in rows {
                var total: Double = 0
                for j in 0..<v { total += Double(dy[r * v + j]) }
                let t = Float(total)
                for j in 0..<v {
                    let g = dy[r * v + j] - SIMDMath.scalarExp(y[r * v + j]) * t
                    dx[r * v + j] = accumulate ? dx[r * v + j] + g : g
                }
            }
        }
    }

    /// logp[n] = x[n, target[n]] - lse[n]; rows whose target is negative (ignored) get 0.
    /// Writes lse [N] for backward.
    public static func gatherForward(_ x: UnsafePointer<Float>, targets: UnsafePointer<Int32>, logp: UnsafeMutablePointer<Float>,
                                     lse: UnsafeMutablePointer<Float>, n: Int, v: Int) {
        for r in 0..<n {
            precondition(Int(targets[r]) < v, "target \(targets[r]) at row \(r) is outside the vocabulary of \(v)")
        }
        logSumExp(x, n: n, v: v, lse: lse)
        for r in 0..<n {
            let t = Int(targets[r])
            logp[r] = t < 0 ? 0 : x[r * v + t] - lse[r]
        }
    }

    /// dx[n, :] (+)= dlogp[n] * (onehot(target[n]) - softmax(x[n, :])); ignored rows get 0.
    public static func gatherBackward(_ x: UnsafePointer<Float>, targets: UnsafePointer<Int32>, lse: UnsafePointer<Float>,
                                      dlogp: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, n: Int, v: Int, accumulate: Bool) {
        Parallel.forRanges(n, minPerThread: max(1, 16384 / max(v, 1))) { rows in
            for r in rows {
                let row = x + r * v, out = dx + r * v
                let t = Int(targets[r])
                if t < 0 {
                    if !accumulate { out.update(repeating: 0, count: v) }
                    continue
                }
                let g = dlogp[r]
                let l = Vec8(repeating: lse[r]), vg = Vec8(repeating: -g)
                var j = 0
                while j + 8 <= v {
                    var val = vg * SIMDMath.exp(SIMDMath.load(row + j) - l)
                    if accumulate { val += SIMDMath.load(out + j) }
                    SIMDMath.store(val, out + j); j += 8
                }
                while j < v {
                    let val = -g * SIMDMath.scalarExp(row[j] - lse[r])
                    out[j] = accumulate ? out[j] + val : val
                    j += 1
                }
                out[t] += g
            }
        }
    }
}
