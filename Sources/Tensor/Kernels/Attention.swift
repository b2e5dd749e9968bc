import CSupport
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Causal scaled dot-product attention with grouped KV heads (GQA), forward and backward.
///
/// Layouts follow the projections' natural output so no transposes are needed:
///   q [B, T, Hq, D], k and v [B, S, Hkv, D], o [B, T, Hq, D]; query head h reads KV head
///   h / (Hq / Hkv). Query i (0-based in T) sits at position i + (S - T) among the keys, so
///   T == S is training and T < S is decoding with a KV cache. Key j is visible to query i
///   when keyStart[b] <= j <= i + S - T (keyStart masks left padding; default 0).
/// The softmax is kept numerically stable with a running max; forward saves only the
/// log-sum-exp per row (lse [B, Hq, T]). The T x S score matrix lives in one scratch buffer
/// per call, reused for every (batch, head), and is recomputed in backward from lse.
///
/// Gemma 2's variations: scores scaled by `scale` instead of 1 / sqrt(D), capped as
/// softcap * tanh(score / softcap) before the softmax, and a sliding window in which query i
/// sees only its `window` latest keys (transformers: kv_idx > q_idx - window).
public struct AttentionShape: Sendable, Equatable {
    public var batch: Int, queryLength: Int, keyLength: Int, queryHeads: Int, kvHeads: Int, headDim: Int
    /// Elements between batch entries of k and v: keyLength * kvHeads * headDim when they are
    /// contiguous, more when they are views of a KV cache with room for longer sequences.
    public var kvBatchStride: Int
    /// Multiplies q . k (default 1 / sqrt(headDim)).
    public var scale: Float
    /// Scores become softcap * tanh(score / softcap) when this is above 0.
    public var softcap: Float = 0
    /// Keys further back than this many positions are masked when above 0.
    public var window: Int = 0
    public init(batch: Int, queryLength: Int, keyLength: Int, queryHeads: Int, kvHeads: Int, headDim: Int, kvBatchStride: Int? = nil) {
        precondition(queryHeads % kvHeads == 0, "\(queryHeads) query heads do not divide into \(kvHeads) KV heads")
        precondition(queryLength <= keyLength, "more queries (\(queryLength)) than keys (\(keyLength))")
        self.batch = batch; self.queryLength = queryLength; self.keyLength = keyLength
        self.queryHeads = queryHeads; self.kvHeads = kvHeads; self.headDim = headDim
        self.kvBatchStride = kvBatchStride ?? keyLength * kvHeads * headDim
        scale = 1 / Float(headDim).squareRoot()
    }
    var group: Int { queryHeads / kvHeads }
    var qRowStride: Int { queryHeads * headDim }
    var kvRowStride: Int { kvHeads * headDim }
    func qOffset(_ b: Int, _ h: Int) -> Int { b * queryLength * qRowStride + h * headDim }
    func kvOffset(_ b: Int, _ h: Int) -> Int { b * kvBatchStride + (h / group) * headDim }
    /// Query rows in blocks of up to 128 (one block when decoding a few rows).
    var queryBlocks: [Range<Int>] {
        stride(from: 0, to: queryLength, by: 128).map { $0..<min(queryLength, $0 + 128) }
    }

    /// Keys any row of the block can see: up to the block's last query position.
    func keyLimit(_ rows: Range<Int>) -> Int { min(keyLength, rows.upperBound + keyLength - queryLength) }

    /// The visible key range of query row i in batch b.
    func visible(_ i: Int, keyStart: Int) -> Range<Int> {
        let hi = min(keyLength, i + keyLength - queryLength + 1)
        let lo = window > 0 ? max(keyStart, hi - window) : keyStart
        return lo < hi ? lo..<hi : 0..<0
    }

    /// softcap * tanh(score / softcap) over a row's visible scores; with `derivative`, the
    /// derivative of that map at each score (1 - tanh^2), which backward multiplies in.
    func capScores(_ row: UnsafeMutablePointer<Float>, _ vis: Range<Int>, derivative: UnsafeMutablePointer<Float>? = nil) {
        guard softcap > 0 else { return }
        for j in vis {
            let t = Foundation.tanh(row[j] / softcap)
            row[j] = softcap * t
            derivative?[j] = 1 - t * t
        }
    }
}

public enum Attention {
    public static func forward(
        q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
        o: UnsafeMutablePointer<Float>, lse: UnsafeMutablePointer<Float>,
        shape s: AttentionShape, keyStart: [Int]? = nil
    ) {
        if s.queryLength <= decodeRows {
            decodeForward(q: q, k: k, v: v, o: o, lse: lse, shape: s, keyStart: keyStart)
            return
        }
        let blas = BLAS.shared
        let T = s.queryLength, S = s.keyLength, D = s.headDim
        let scores = TensorStorage(count: T * S, zeroed: false)
        let p = scores.pointer
        for b in 0..<s.batch {
            let start = keyStart?[b] ?? 0
            for h in 0..<s.queryHeads {
                let qo = s.qOffset(b, h), kvo = s.kvOffset(b, h)
                let lseRow = lse + (b * s.queryHeads + h) * T
                // Blocks of query rows see only keys up to their last row's position: the
                // causal mask skips the upper triangle's work, not only its values.
                for rows in s.queryBlocks {
                    let keys = s.keyLimit(rows)
                    blas.sgemm(transA: false, transB: true, m: rows.count, n: keys, k: D, alpha: s.scale,
                               a: q + qo + rows.lowerBound * s.qRowStride, lda: s.qRowStride, b: k + kvo, ldb: s.kvRowStride,
                               c: p + rows.lowerBound * S, ldc: S)
                    Parallel.forRanges(rows.count, minPerThread: max(1, 16384 / max(keys, 1))) { part in
                        for i in (rows.lowerBound + part.lowerBound)..<(rows.lowerBound + part.upperBound) {
                            let row = p + i * S
                            let vis = s.visible(i, keyStart: start)
                            if vis.isEmpty {
                                row.update(repeating: 0, count: keys)
                                lseRow[i] = -.infinity
                                continue
                            }
                            s.capScores(row, vis)
                            let m = SIMDMath.max(row + vis.lowerBound, vis.count)
                            let sum = SIMDMath.sumExp(row + vis.lowerBound, vis.count, shift: m)
                            let l = m + Float(log(sum))
                            lseRow[i] = l
                            softmaxFromLSE(row, visible: vis, count: keys, lse: l)
                        }
                    }
                    blas.sgemm(transA: false, transB: false, m: rows.count, n: D, k: keys,
                               a: p + rows.lowerBound * S, lda: S, b: v + kvo, ldb: s.kvRowStride,
                               c: o + qo + rows.lowerBound * s.qRowStride, ldc: s.qRowStride)
                }
            }
        }
    }

    /// Query rows up to which decoding takes the direct path below.
    static let decodeRows = 4

    /// Forward for a few query rows (decoding): one task per (batch, head) computes scores with
    /// dot products against the cached keys and the weighted sum of values directly (the two
    /// products in C: eight keys per reduction, the output held in registers). Thousands
    /// of tiny BLAS calls (batch x heads x layers per token) would cost more in overhead than in
    /// arithmetic; this spreads the (batch, head) pairs over the cores instead.
    static func decodeForward(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                              o: UnsafeMutablePointer<Float>, lse: UnsafeMutablePointer<Float>,
                              shape s: AttentionShape, keyStart: [Int]?) {
        let T = s.queryLength, S = s.keyLength, D = s.headDim
        Parallel.forEach(s.batch * s.queryHeads, minPerThread: 4, lowLatency: true) { pair in
            let b = pair / s.queryHeads, h = pair % s.queryHeads
            let start = keyStart?[b] ?? 0
            let qo = s.qOffset(b, h), kvo = s.kvOffset(b, h)
            withUnsafeTemporaryAllocation(of: Float.self, capacity: max(S, 1)) { buffer in
                let scores = buffer.baseAddress!
                for i in 0..<T {
                    let out = o + qo + i * s.qRowStride
                    let vis = s.visible(i, keyStart: start)
                    let lseOut = lse + (b * s.queryHeads + h) * T + i
                    if vis.isEmpty {
                        out.update(repeating: 0, count: D)
                        lseOut.pointee = -.infinity
                        continue
                    }
                    // Scores and values of the visible keys only; the softmax in between.
                    let kv = kvo + vis.lowerBound * s.kvRowStride, n = vis.count
                    saro_attention_scores(q + qo + i * s.qRowStride, k + kv, s.kvRowStride, n, D, s.scale, scores)
                    s.capScores(scores, 0..<n)
                    let m = SIMDMath.max(scores, n)
                    let l = m + Float(log(SIMDMath.sumExp(scores, n, shift: m)))
                    lseOut.pointee = l
                    softmaxFromLSE(scores, visible: 0..<n, count: n, lse: l)
                    saro_attention_weighted_sum(scores, n, v + kv, s.kvRowStride, D, out)
                }
            }
        }
    }

    /// Gradients of forward. dq is written (or accumulated when accumulateDq); dk and dv are
    /// always accumulated, since several query heads share one KV head: the caller zeroes them.
    public static func backward(
        q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
        o: UnsafePointer<Float>, lse: UnsafePointer<Float>, dout: UnsafePointer<Float>,
        dq: UnsafeMutablePointer<Float>, accumulateDq: Bool,
        dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>,
        shape s: AttentionShape, keyStart: [Int]? = nil
    ) {
        precondition(s.kvBatchStride == s.keyLength * s.kvRowStride, "attention backward needs contiguous k and v")
        let blas = BLAS.shared
        let T = s.queryLength, S = s.keyLength, D = s.headDim
        let pStore = TensorStorage(count: T * S, zeroed: false), dpStore = TensorStorage(count: T * S, zeroed: false)
        let p = pStore.pointer, dp = dpStore.pointer
        // The softcap's derivative at each score, when scores are capped.
        let capStore = s.softcap > 0 ? TensorStorage(count: T * S, zeroed: false) : nil
        let cap = capStore?.pointer
        for b in 0..<s.batch {
            let start = keyStart?[b] ?? 0
            for h in 0..<s.queryHeads {
                let qo = s.qOffset(b, h), kvo = s.kvOffset(b, h)
                let lseRow = lse + (b * s.queryHeads + h) * T
                for rows in s.queryBlocks {
                    let keys = s.keyLimit(rows), r0 = rows.lowerBound, nr = rows.count
                    let pb = p + r0 * S, dpb = dp + r0 * S
                    let qb = q + qo + r0 * s.qRowStride, gb = dout + qo + r0 * s.qRowStride
                    // P = softmax(scale * Q K^T), recomputed from the saved log-sum-exp.
                    blas.sgemm(transA: false, transB: true, m: nr, n: keys, k: D, alpha: s.scale,
                               a: qb, lda: s.qRowStride, b: k + kvo, ldb: s.kvRowStride, c: pb, ldc: S)
                    Parallel.forRanges(nr, minPerThread: max(1, 16384 / max(keys, 1))) { part in
                        for i in (r0 + part.lowerBound)..<(r0 + part.upperBound) {
                            let vis = s.visible(i, keyStart: start)
                            if vis.isEmpty { (p + i * S).update(repeating: 0, count: keys); continue }
                            s.capScores(p + i * S, vis, derivative: cap.map { $0 + i * S })
                            softmaxFromLSE(p + i * S, visible: vis, count: keys, lse: lseRow[i])
                        }
                    }
                    // dV += P^T dO ; dP = dO V^T
                    blas.sgemm(transA: true, transB: false, m: keys, n: D, k: nr,
                               a: pb, lda: S, b: gb, ldb: s.qRowStride, beta: 1, c: dv + kvo, ldc: s.kvRowStride)
                    blas.sgemm(transA: false, transB: true, m: nr, n: keys, k: D,
                               a: gb, lda: s.qRowStride, b: v + kvo, ldb: s.kvRowStride, c: dpb, ldc: S)
                    // dS = P * (dP - rowsum(dO * O)), stored over P.
                    Parallel.forRanges(nr, minPerThread: max(1, 16384 / max(keys, 1))) { part in
                        for i in (r0 + part.lowerBound)..<(r0 + part.upperBound) {
                            let di = SIMDMath.dot(dout + qo + i * s.qRowStride, o + qo + i * s.qRowStride, D)
                            let pr = p + i * S, dpr = dp + i * S
                            for j in s.visible(i, keyStart: start) { pr[j] = pr[j] * (dpr[j] - di) }
                            if let cap { for j in s.visible(i, keyStart: start) { pr[j] *= cap[i * S + j] } }
                        }
                    }
                    // dQ (+)= scale * dS K ; dK += scale * dS^T Q
                    blas.sgemm(transA: false, transB: false, m: nr, n: D, k: keys, alpha: s.scale,
                               a: pb, lda: S, b: k + kvo, ldb: s.kvRowStride, beta: accumulateDq ? 1 : 0, c: dq + qo + r0 * s.qRowStride, ldc: s.qRowStride)
                    blas.sgemm(transA: true, transB: false, m: keys, n: D, k: nr, alpha: s.scale,
                               a: pb, lda: S, b: qb, ldb: s.qRowStride, beta: 1, c: dk + kvo, ldc: s.kvRowStride)
                }
            }
        }
    }

    /// row[j] = exp(row[j] - lse) on the visible range, 0 elsewhere.
    @inline(__always)
    static func softmaxFromLSE(_ row: UnsafeMutablePointer<Float>, visible vis: Range<Int>, count: Int, lse: Float) {
        if vis.lowerBound > 0 { row.update(repeating: 0, count: vis.lowerBound) }
        var j = vis.lowerBound
        let l = Vec8(repeating: lse)
        while j + 8 <= vis.upperBound { SIMDMath.store(SIMDMath.exp(SIMDMath.load(row + j) - l), row + j); j += 8 }
        while j < vis.upperBound { row[j] = SIMDMath.scalarExp(row[j] - lse); j += 1 }
        if vis.upperBound < count { (row + vis.upperBound).update(repeating: 0, count: count - vis.upperBound) }
    }
}

/// How an architecture's attention differs from plain causal attention (Gemma 2); nil keeps
/// the default: 1 / sqrt(D), no cap, no window.
public struct AttentionOptions: Sendable, Equatable {
    public var scale: Float?
    public var softcap: Float?
    public var window: Int?
    public init(scale: Float? = nil, softcap: Float? = nil, window: Int? = nil) { self.scale = scale; self.softcap = softcap; self.window = window }
}
