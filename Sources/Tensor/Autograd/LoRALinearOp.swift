extension Ops {
    /// y = x W^T + b + scale * (d(x) A^T) B^T in one output buffer: a frozen or trainable
    /// projection W [out, in] with a low-rank adapter A [r, in], B [out, r], where d is the
    /// adapter's input dropout (`xAdapter` is d(x), or x itself without dropout).
    ///
    /// Fused so that a LoRA projection keeps one [N, out] activation instead of four (base
    /// output, adapter output, its scaled copy and the sum); saved for backward: x, d(x) and
    /// u = d(x) A^T [N, r].
    ///   dx  = dy W + [scale * (dy B) A  through d]
    ///   dA += scale * (dy B)^T d(x),  dB += scale * dy^T u,  dW += dy^T x (when trainable)
    public static func loraLinear(_ x: Variable, weight: Variable, bias: Variable?, a: Variable, b: Variable, scale: Float,
                                  adapterInput: Variable? = nil) -> Variable {
        let base = linear(x, weight: weight, bias: bias)
        let xa = adapterInput ?? x
        let xav = xa.value.contiguous(), av = a.value.contiguous(), bv = b.value.contiguous()
        let rank = av.shape[0], inF = av.shape[1], outF = bv.shape[0]
        let n = xav.count / inF
        let blas = BLAS.shared
        let u = Tensor(uninitialized: [n, rank])
        blas.sgemm(transA: false, transB: true, m: n, n: rank, k: inF, a: xav.data, lda: inF, b: av.data, ldb: inF, c: u.data, ldc: rank)
        // Accumulate scale * u B^T straight into the base output.
        let y = base.value
        blas.sgemm(transA: false, transB: true, m: n, n: outF, k: rank, alpha: scale, a: u.data, lda: rank, b: bv.data, ldb: rank, beta: 1, c: y.data, ldc: outF)
        let parents = [base, xa, a, b]
        return Variable(result: y, parents: parents) { [unowned base, unowned xa, unowned a, unowned b] g in
            let gc = g.contiguous()
            // The base projection's own backward handles x, W and the bias.
            base.accumulateGrad(gc, owned: true)
            guard xa.requiresGrad || a.requiresGrad || b.requiresGrad else { return }
            // v = dy B  [n, r]
            let v = Tensor(uninitialized: [n, rank])
            blas.sgemm(transA: false, transB: false, m: n, n: rank, k: outF, a: gc.data, lda: outF, b: bv.data, ldb: rank, c: v.data, ldc: rank)
            b.withGradBuffer { db, acc in
                blas.sgemm(transA: true, transB: false, m: outF, n: rank, k: n, alpha: scale, a: gc.data, lda: outF, b: u.data, ldb: rank,
                           beta: acc ? 1 : 0, c: db.data, ldc: rank)
            }
            a.withGradBuffer { da, acc in
                blas.sgemm(transA: true, transB: false, m: rank, n: inF, k: n, alpha: scale, a: v.data, lda: rank, b: xav.data, ldb: inF,
                           beta: acc ? 1 : 0, c: da.data, ldc: inF)
            }
            xa.withGradBuffer { dx, acc in
                blas.sgemm(transA: false, transB: false, m: n, n: inF, k: rank, alpha: scale, a: v.data, lda: rank, b: av.data, ldb: inF,
                           beta: acc ? 1 : 0, c: dx.data, ldc: inF)
            }
        }
    }
}
