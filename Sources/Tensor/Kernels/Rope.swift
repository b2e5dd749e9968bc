#if canImport(Glibc)
import Glibc
#endif

/// Rotary position embedding in transformers' Llama convention ("rotate_half": the first and
/// second halves of each head form the pairs, not interleaved neighbours):
///   y[i]       = x[i] * cos_i - x[i + D/2] * sin_i
///   y[i + D/2] = x[i + D/2] * cos_i + x[i] * sin_i          for i < D/2
/// x is [N, H, D] with N = batch * time; cos and sin are [N, D/2] for each row's position.
public enum Rope {
    /// Llama 3's `rope_scaling` (rope_type "llama3"): long wavelengths are divided by
    /// `factor`, short ones kept, and the band between blended smoothly.
    public struct Llama3Scaling: Sendable, Equatable, Codable {
        public var factor: Double
        public var lowFreqFactor: Double
        public var highFreqFactor: Double
        public var originalMaxPositionEmbeddings: Int

        public init(factor: Double, lowFreqFactor: Double, highFreqFactor: Double, originalMaxPositionEmbeddings: Int) {
            self.factor = factor
            self.lowFreqFactor = lowFreqFactor
            self.highFreqFactor = highFreqFactor
            self.originalMaxPositionEmbeddings = originalMaxPositionEmbeddings
        }
    }

    /// inv_freq[i] = 1 / theta^(2i / D), i < D/2, rounded to Float as transformers stores it,
    /// with the Llama 3 scaling applied when given.
    public static func inverseFrequencies(headDim d: Int, theta: Double, llama3: Llama3Scaling? = nil) -> [Float] {
        var inv = (0..<(d / 2)).map { i in Float(1.0 / pow(theta, Double(2 * i) / Double(d))) }
        if let s = llama3 {
            let old = Double(s.originalMaxPositionEmbeddings)
            let lowWavelen = old / s.lowFreqFactor, highWavelen = old / s.highFreqFactor
            inv = inv.map { f in
                let wavelen = 2 * Double.pi / Double(f)
                if wavelen < highWavelen { return f }
                if wavelen > lowWavelen { return Float(Double(f) / s.factor) }
                let smooth = (old / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor)
                return Float((1 - smooth) * Double(f) / s.factor + smooth * Double(f))
            }
        }
        return inv
    }

    /// cos and sin [N, D/2] for the given positions. The angle is formed in Float (as
    /// transformers does, position * inv_freq in float32) and its cos/sin taken in Double.
    public static func angles(positions: [Int32], inverseFrequencies inv: [Float]) -> (cos: Tensor, sin: Tensor) {
        let half = inv.count
        let c = Tensor(uninitialized: [positions.count, half]), s = Tensor(uninitialized: [positions.count, half])
        let cp = c.data, sp = s.data
        for (row, p) in positions.enumerated() {
            for i in 0..<half {
                let a = Double(Float(p) * inv[i])
                cp[row * half + i] = Float(cos(a))
                sp[row * half + i] = Float(sin(a))
            }
        }
        return (c, s)
    }

    /// y = rope(x); y may equal x (in place).
    public static func forward(x: UnsafePointer<Float>, cos: UnsafePointer<Float>, sin: UnsafePointer<Float>,
                               y: UnsafeMutablePointer<Float>, n: Int, heads: Int, headDim d: Int) {
        rotate(x: x, cos: cos, sin: sin, y: y, n: n, heads: heads, headDim: d, sign: 1, accumulate: false)
    }

    /// dx (+)= rope^T(dy): the rotation by the opposite angle.
    public static func backward(dy: UnsafePointer<Float>, cos: UnsafePointer<Float>, sin: UnsafePointer<Float>,
                                dx: UnsafeMutablePointer<Float>, n: Int, heads: Int, headDim d: Int, accumulate: Bool) {
        rotate(x: dy, cos: cos, sin: sin, y: dx, n: n, heads: heads, headDim: d, sign: -1, accumulate: accumulate)
    }

    static func rotate(x: UnsafePointer<Float>, cos: UnsafePointer<Float>, sin: UnsafePointer<Float>,
                       y: UnsafeMutablePointer<Float>, n: Int, heads: Int, headDim d: Int, sign: Float, accumulate: Bool) {
        let half = d / 2
        Parallel.forRanges(n, minPerThread: max(1, 4096 / max(heads * d, 1))) { rows in
            for row in rows {
                let cr = cos + row * half, sr = sin + row * half
                for h in 0..<heads {
                    let base = (row * heads + h) * d
                    for i in 0..<half {
                        let a = x[base + i], b = x[base + i + half]
                        let c = cr[i], s = sign * sr[i]
                        let ya = a * c - b * s, yb = b * c + a * s
                        if accumulate {
                            y[base + i] += ya; y[base + i + half] += yb
                        } else {
                            y[base + i] = ya; y[base + i + half] = yb
                        }
                    }
                }
            }
        }
    }
}
