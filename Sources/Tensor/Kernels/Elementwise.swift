/// Elementwise kernels, forward and backward side by side. All arrays are contiguous with
/// `n` elements; the work is split over the cores in large chunks.
public enum Elementwise {
    static let grain = 1 << 15

    /// out = a + b
    public static func add(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, n: Int) {
        Parallel.forRanges(n, minPerThread: grain) { r in
            var i = r.lowerBound
            while i + 8 <= r.upperBound { SIMDMath.store(SIMDMath.load(a + i) + SIMDMath.load(b + i), out + i); i += 8 }
            while i < r.upperBound { out[i] = a[i] + b[i]; i += 1 }
        }
    }

    /// y += alpha * x
    public static func axpy(_ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, n: Int) {
        Parallel.forRanges(n, minPerThread: grain) { r in
            var i = r.lowerBound
            let va = Vec8(repeating: alpha)
            while i + 8 <= r.upperBound {
                SIMDMath.store(SIMDMath.load(y + i).addingProduct(va, SIMDMath.load(x + i)), y + i); i += 8
            }
            while i < r.upperBound { y[i] += alpha * x[i]; i += 1 }
        }
    }

    /// y += alpha * x on the calling thread (for use inside an already parallel loop).
    @inline(__always)
    public static func axpySerial(_ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, n: Int) {
        var i = 0
        let va = Vec8(repeating: alpha)
        while i + 8 <= n { SIMDMath.store(SIMDMath.load(y + i).addingProduct(va, SIMDMath.load(x + i)), y + i); i += 8 }
        while i < n { y[i] += alpha * x[i]; i += 1 }
    }

    /// out = a * b (elementwise)
    public static func mul(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, n: Int) {
        Parallel.forRanges(n, minPerThread: grain) { r in
            var i = r.lowerBound
            while i + 8 <= r.upperBound { SIMDMath.store(SIMDMath.load(a + i) * SIMDMath.load(b + i), out + i); i += 8 }
            while i < r.upperBound { out[i] = a[i] * b[i]; i += 1 }
        }
    }

    /// out = alpha * a
    public static func scale(_ a: UnsafePointer<Float>, _ alpha: Float, _ out: UnsafeMutablePointer<Float>, n: Int) {
        Parallel.forRanges(n, minPerThread: grain) { r in
            var i = r.lowerBound
            while i + 8 <= r.upperBound { SIMDMath.store(SIMDMath.load(a + i) * alpha, out + i); i += 8 }
            while i < r.upperBound { out[i] = a[i] * alpha; i += 1 }
        }
    }

    // MARK: SiLU: y = x * sigmoid(x)

    public static func siluForward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, n: Int) {
        Parallel.forRanges(n, minPerThread: grain) { r in
            var i = r.lowerBound
            while i + 8 <= r.upperBound {
                let v = SIMDMath.load(x + i)
                SIMDMath.store(v * SIMDMath.sigmoid(v), y + i); i += 8
            }
            while i < r.upperBound { y[i] = x[i] / (1 + SIMDMath.scalarExp(-x[i])); i += 1 }
        }
    }

    /// dx (+)= dy * s * (1 + x * (1 - s)), s = sigmoid(x)
    public static func siluBackward(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, n: Int, accumulate: Bool) {
        Parallel.forRanges(n, minPerThread: grain) { r in
            var i = r.lowerBound
            while i + 8 <= r.upperBound {
                let v = SIMDMath.load(x + i)
                let s = SIMDMath.sigmoid(v)
                var g = SIMDMath.load(dy + i) * s * (1 + v * (1 - s))
                if accumulate { g += SIMDMath.load(dx + i) }
                SIMDMath.store(g, dx + i); i += 8
            }
            while i < r.upperBound {
                let s = 1 / (1 + SIMDMath.scalarExp(-x[i]))
                let g = dy[i] * s * (1 + x[i] * (1 - s))
                dx[i] = accumulate ? dx[i] + g : g
                i += 1
            }
        }
    }

    // MARK: SwiGLU: y = silu(gate) * up (the Llama MLP's activation)

    public static func swigluForward(gate: UnsafePointer<Float>, up: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, n: Int) {
        Parallel.forRanges(n, minPerThread: grain) { r in
            var i = r.lowerBound
            while i + 8 <= r.upperBound {
                let a = SIMDMath.load(gate + i)
                SIMDMath.store(a * SIMDMath.sigmoid(a) * SIMDMath.load(up + i), y + i); i += 8
            }
            while i < r.upperBound { y[i] = gate[i] / (1 + SIMDMath.scalarExp(-gate[i])) * up[i]; i += 1 }
        }
    }

    /// dgate = dy * up * silu'(gate); dup = dy * silu(gate). Either output may be nil (not needed).
    public static func swigluBackward(
        gate: UnsafePointer<Float>, up: UnsafePointer<Float>, dy: UnsafePointer<Float>,
        dgate: UnsafeMutablePointer<Float>?, dup: UnsafeMutablePointer<Float>?,
        n: Int, accumulateGate: Bool, accumulateUp: Bool
    ) {
        Parallel.forRanges(n, minPerThread: grain) { r in
            var i = r.lowerBound
            while i + 8 <= r.upperBound {
                let a = SIMDMath.load(gate + i), g = SIMDMath.load(dy + i)
                let s = SIMDMath.sigmoid(a)
                if let dgate {
                    var v = g * SIMDMath.load(up + i) * s * (1 + a * (1 - s))
                    if accumulateGate { v += SIMDMath.load(dgate + i) }
                    SIMDMath.store(v, dgate + i)
                }
                if let dup {
                    var v = g * a * s
                    if accumulateUp { v += SIMDMath.load(dup + i) }
                    SIMDMath.store(v, dup + i)
                }
                i += 8
            }
            while i < r.upperBound {
                let a = gate[i], s = 1 / (1 + SIMDMath.scalarExp(-a))
                if let dgate {
                    let v = dy[i] * up[i] * s * (1 + a * (1 - s))
                    dgate[i] = accumulateGate ? dgate[i] + v : v
                }
                if let dup {
                    let v = dy[i] * a * s
                    dup[i] = accumulateUp ? dup[i] + v : v
                }
                i += 1
            }
        }
    }
}
