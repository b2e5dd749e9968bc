/// RMSNorm as in Llama (transformers' LlamaRMSNorm, float32):
///   y = weight * x * rstd,  rstd = 1 / sqrt(mean(x^2) + eps)
/// over the last dimension C of x [N, C].
public enum RMSNorm {
    /// Writes y [N, C] and rstd [N] (kept for backward).
    public static func forward(
        x: UnsafePointer<Float>, weight: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
        rstd: UnsafeMutablePointer<Float>, n: Int, c: Int, eps: Float
    ) {
        Parallel.forRanges(n, minPerThread: max(1, 4096 / max(c, 1))) { rows in
            for row in rows {
                let xr = x + row * c, yr = y + row * c
                let ms = SIMDMath.dot(xr, xr, c) / Float(c)
                let r = 1 / (ms + eps).squareRoot()
                rstd[row] = r
                var i = 0
                while i + 8 <= c { SIMDMath.store(SIMDMath.load(xr + i) * r * SIMDMath.load(weight + i), yr + i); i += 8 }
                while i < c { yr[i] = xr[i] * r * weight[i]; i += 1 }
            }
        }
    }

    /// With xhat = x * rstd and dxhat = dy * weight:
    ///   dx = rstd * (dxhat - xhat * mean(dxhat * xhat))      (written or accumulated)
    ///   dweight += sum over rows of dy * xhat                  (when dweight is non-nil)
    public static func backward(
        x: UnsafePointer<Float>, weight: UnsafePointer<Float>, rstd: UnsafePointer<Float>, dy: UnsafePointer<Float>,
        dx: UnsafeMutablePointer<Float>?, accumulateDx: Bool, dweight: UnsafeMutablePointer<Float>?, n: Int, c: Int
    ) {
        if let dx {
            Parallel.forRanges(n, minPerThread: max(1, 4096 / max(c, 1))) { rows in
                for row in rows {
                    let xr = x + row * c, gr = dy + row * c, dxr = dx + row * c
                    let r = rstd[row]
                    var dot: Float = 0
                    for i in 0..<c { dot += gr[i] * weight[i] * xr[i] * r }
                    let m = dot / Float(c)
                    for i in 0..<c {
                        let v = r * (gr[i] * weight[i] - xr[i] * r * m)
                        dxr[i] = accumulateDx ? dxr[i] + v : v
                    }
                }
            }
        }
        if let dweight {
            // Split over columns so threads never write the same dweight element.
            Parallel.forRanges(c, minPerThread: 64) { cols in
                for row in 0..<n {
                    let xr = x + row * c, gr = dy + row * c
                    let r = rstd[row]
                    for i in cols { dweight[i] += gr[i] * xr[i] * r }
                }
            }
        }
    }
}
