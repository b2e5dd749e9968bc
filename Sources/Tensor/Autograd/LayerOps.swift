/// The layers of a Llama-family transformer as differentiable ops.
public enum Ops {
    /// table [V, C], ids [N] -> [N, C] (reshape the result for batch and time).
    public static func embedding(_ table: Variable, ids: [Int32]) -> Variable {
        let t = table.value.contiguous()
        let vocab = t.shape[0], c = t.shape[1]
        let out = Tensor(uninitialized: [ids.count, c])
        ids.withUnsafeBufferPointer { Embedding.forward(table: t.data, ids: $0.baseAddress!, out: out.data, n: ids.count, c: c, vocab: vocab) }
        return Variable(result: out, parents: [table]) { [unowned table] g in
            let gc = g.contiguous()
            let dt = table.zeroedGradBuffer()
            ids.withUnsafeBufferPointer { Embedding.backward(dout: gc.data, ids: $0.baseAddress!, dtable: dt.data, n: ids.count, c: c) }
        }
    }

    /// x [..., in] W^T + b: weight [out, in] (Hugging Face's layout), bias [out].
    public static func linear(_ x: Variable, weight: Variable, bias: Variable? = nil) -> Variable {
        let w = weight.value.contiguous()
        let outF = w.shape[0], inF = w.shape[1]
        precondition(x.shape.last == inF, "linear: input \(x.shape) does not end in \(inF) features (weight \(w.shape))")
        let xv = x.value.contiguous()
        let n = xv.count / inF
        let blas = BLAS.shared
        let out = Tensor(uninitialized: Array(x.shape.dropLast()) + [outF])
        blas.sgemm(transA: false, transB: true, m: n, n: outF, k: inF, a: xv.data, lda: inF, b: w.data, ldb: inF, c: out.data, ldc: outF)
        if let bias {
            precondition(bias.value.count == outF, "linear: bias of \(bias.value.count) for \(outF) outputs")
            out.addRowVector(bias.value)
        }
        let parents = [x, weight] + (bias.map { [$0] } ?? [])
        return Variable(result: out, parents: parents) { [unowned x, unowned weight] g in
            let gc = g.contiguous()
            // dx = dy W          [n, out] x [out, in]
            x.withGradBuffer { dx, acc in
                blas.sgemm(transA: false, transB: false, m: n, n: inF, k: outF, a: gc.data, lda: outF, b: w.data, ldb: inF,
                           beta: acc ? 1 : 0, c: dx.data, ldc: inF)
            }
            // dW += dy^T x       [out, n] x [n, in]
            weight.withGradBuffer { dw, acc in
                blas.sgemm(transA: true, transB: false, m: outF, n: inF, k: n, a: gc.data, lda: outF, b: xv.data, ldb: inF,
                           beta: acc ? 1 : 0, c: dw.data, ldc: inF)
            }
            // db += column sums of dy
            if let bias, bias.requiresGrad {
                let db = bias.zeroedGradBuffer()
                Parallel.forRanges(outF, minPerThread: 64) { cols in
                    for r in 0..<n { for j in cols { db.data[j] += gc.data[r * outF + j] } }
                }
            }
        }
    }

    /// RMSNorm over the last dimension, with a learned scale weight [C], used as weight +
    /// `weightOffset` (Gemma stores w and scales by 1 + w; the weight's gradient is the same).
    public static func rmsNorm(_ x: Variable, weight: Variable, eps: Float, weightOffset: Float = 0) -> Variable {
        let xv = x.value.contiguous()
        var w = weight.value.contiguous()
        if weightOffset != 0 {
            let shifted = Tensor(uninitialized: w.shape)
            for i in 0..<w.count { shifted.data[i] = w.data[i] + weightOffset }
            w = shifted
        }
        let c = w.count
        precondition(x.shape.last == c, "rmsNorm: input \(x.shape) does not end in \(c)")
        let n = xv.count / c
        let out = Tensor(uninitialized: x.shape), rstd = Tensor(uninitialized: [n])
        RMSNorm.forward(x: xv.data, weight: w.data, y: out.data, rstd: rstd.data, n: n, c: c, eps: eps)
        return Variable(result: out, parents: [x, weight]) { [unowned x, unowned weight] g in
            let gc = g.contiguous()
            let dw = weight.requiresGrad ? weight.zeroedGradBuffer() : nil
            if x.requiresGrad {
                x.withGradBuffer { dx, acc in
                    RMSNorm.backward(x: xv.data, weight: w.data, rstd: rstd.data, dy: gc.data, dx: dx.data, accumulateDx: acc,
                                     dweight: dw?.data, n: n, c: c)
                }
            } else {
                RMSNorm.backward(x: xv.data, weight: w.data, rstd: rstd.data, dy: gc.data, dx: nil, accumulateDx: false,
                                 dweight: dw?.data, n: n, c: c)
            }
        }
    }

    /// Rotary embedding of x [B, T, H, D] with per-row cos and sin [B*T, D/2] (`Rope.angles`).
    public static func rope(_ x: Variable, cos: Tensor, sin: Tensor) -> Variable {
        let xv = x.value.contiguous()
        precondition(xv.rank == 4, "rope expects [batch, time, heads, headDim], got \(xv.shape)")
        let n = xv.shape[0] * xv.shape[1], h = xv.shape[2], d = xv.shape[3]
        precondition(cos.shape == [n, d / 2] && sin.shape == [n, d / 2], "rope: angle tables \(cos.shape) for \(xv.shape)")
        let out = Tensor(uninitialized: xv.shape)
        Rope.forward(x: xv.data, cos: cos.data, sin: sin.data, y: out.data, n: n, heads: h, headDim: d)
        return Variable(result: out, parents: [x]) { [unowned x] g in
            let gc = g.contiguous()
            x.withGradBuffer { dx, acc in
                Rope.backward(dy: gc.data, cos: cos.data, sin: sin.data, dx: dx.data, n: n, heads: h, headDim: d, accumulate: acc)
            }
        }
    }

    /// silu(x) = x * sigmoid(x).
    public static func silu(_ x: Variable) -> Variable {
        let xv = x.value.contiguous()
        let out = Tensor(uninitialized: x.shape)
        Elementwise.siluForward(xv.data, out.data, n: out.count)
        return Variable(result: out, parents: [x]) { [unowned x] g in
            let gc = g.contiguous()
            x.withGradBuffer { dx, acc in Elementwise.siluBackward(xv.data, gc.data, dx.data, n: xv.count, accumulate: acc) }
        }
    }

    /// silu(gate) * up, the Llama MLP's activation, fused.
    public static func swiglu(gate: Variable, up: Variable) -> Variable {
        precondition(gate.shape == up.shape, "swiglu: gate \(gate.shape) and up \(up.shape) differ")
        let a = gate.value.contiguous(), b = up.value.contiguous()
        let out = Tensor(uninitialized: gate.shape)
        Elementwise.swigluForward(gate: a.data, up: b.data, out.data, n: out.count)
        return Variable(result: out, parents: [gate, up]) { [unowned gate, unowned up] g in
            let gc = g.contiguous()
            var dgate: Tensor? = nil, dup: Tensor? = nil
            var accG = false, accU = false
            if gate.requiresGrad { if let e = gate.grad { dgate = e; accG = true } else { dgate = Tensor(uninitialized: gate.shape) } }
            if up.requiresGrad { if let e = up.grad { dup = e; accU = true } else { dup = Tensor(uninitialized: up.shape) } }
            Elementwise.swigluBackward(gate: a.data, up: b.data, dy: gc.data, dgate: dgate?.data, dup: dup?.data,
                                       n: a.count, accumulateGate: accG, accumulateUp: accU)
            if gate.requiresGrad { gate.grad = dgate }
            if up.requiresGrad { up.grad = dup }
        }
    }

    /// Causal attention: q [B, T, Hq, D], k and v [B, S, Hkv, D] -> [B, T, Hq, D]. See `Attention`.
    /// k and v may be views of a KV cache (batch entries further apart than S * Hkv * D); that
    /// layout is read in place, without a copy, when no gradient is needed. `options` carries
    /// Gemma 2's scale, score cap and sliding window.
    public static func attention(q: Variable, k: Variable, v: Variable, keyStart: [Int]? = nil, options: AttentionOptions = .init()) -> Variable {
        let qv = q.value.contiguous()
        let needsGrad = GradMode.isEnabled && (q.requiresGrad || k.requiresGrad || v.requiresGrad)
        let cacheStride = needsGrad ? nil : batchStridedRows(k.value).flatMap { s in batchStridedRows(v.value) == s ? s : nil }
        let kv = cacheStride != nil ? k.value : k.value.contiguous(), vv = cacheStride != nil ? v.value : v.value.contiguous()
        precondition(qv.rank == 4 && kv.rank == 4 && kv.shape == vv.shape && qv.shape[0] == kv.shape[0] && qv.shape[3] == kv.shape[3],
                     "attention: q \(qv.shape), k \(kv.shape), v \(vv.shape)")
        var s = AttentionShape(batch: qv.shape[0], queryLength: qv.shape[1], keyLength: kv.shape[1],
                               queryHeads: qv.shape[2], kvHeads: kv.shape[2], headDim: qv.shape[3], kvBatchStride: cacheStride)
        if let scale = options.scale { s.scale = scale }
        s.softcap = options.softcap ?? 0
        s.window = options.window ?? 0
        let out = Tensor(uninitialized: qv.shape), lse = Tensor(uninitialized: [s.batch, s.queryHeads, s.queryLength])
        Attention.forward(q: qv.data, k: kv.data, v: vv.data, o: out.data, lse: lse.data, shape: s, keyStart: keyStart)
        return Variable(result: out, parents: [q, k, v]) { [unowned q, unowned k, unowned v] g in
            let gc = g.contiguous()
            // Key and value gradients always accumulate (shared KV heads); give them zeroed
            // buffers when they are not needed so the kernel stays branch-free.
            let dk = k.requiresGrad ? k.zeroedGradBuffer() : Tensor(zeros: kv.shape)
            let dv = v.requiresGrad ? v.zeroedGradBuffer() : Tensor(zeros: vv.shape)
            var dq: Tensor, accQ = false
            if q.requiresGrad, let e = q.grad { dq = e; accQ = true } else { dq = Tensor(uninitialized: qv.shape) }
            Attention.backward(q: qv.data, k: kv.data, v: vv.data, o: out.data, lse: lse.data, dout: gc.data,
                               dq: dq.data, accumulateDq: accQ, dk: dk.data, dv: dv.data, shape: s, keyStart: keyStart)
            if q.requiresGrad { q.grad = dq }
        }
    }

    /// The batch stride of a [B, S, H, D] tensor whose rows are contiguous within each batch
    /// entry (a KV cache view), or nil for any other layout.
    static func batchStridedRows(_ t: Tensor) -> Int? {
        guard t.rank == 4 else { return nil }
        let h = t.shape[2], d = t.shape[3]
        guard t.strides[3] == 1, t.strides[2] == d || h == 1, t.strides[1] == h * d || t.shape[1] == 1 else { return nil }
        return t.shape[0] == 1 ? t.shape[1] * h * d : t.strides[0]
    }
}
