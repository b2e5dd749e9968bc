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
public struct AttentionShape: Sendable, Equatable {
    public var batch: Int, queryLength: Int, keyLength: Int, queryHeads: Int, kvHeads: Int, headDim: Int
    /// Elements between batch entries of k and v: keyLength * kvHeads * headDim when they are
    /// contiguous, more when they are views of a KV cache with room for longer sequences.
    public var kvBatchStride: Int
    public init(batch: Int, queryLength: Int, keyLength: Int, queryHeads: Int, kvHeads: Int, headDim: Int, kvBatchStride: Int? = nil) {
        precondition(queryHeads % kvHeads == 0, "\(queryHeads) query heads do not divide into \(kvHeads) KV heads")
        precondition(queryLength <= keyLength, "more queries (\(queryLength)) than keys (\(keyLength))")
        self.batch = batch; self.queryLength = queryLength; self.keyLength = keyLength
        self.queryHeads = queryHeads; self.kvHeads = kvHeads; self.headDim = headDim
        self.kvBatchStride = kvBatchStride ?? keyLength * kvHeads * headDim
    }
    var group: Int { queryHeads / kvHeads }
    var scale: Float { 1 / Float(headDim).squareRoot() }
    var qRowStride: Int { queryHeads * headDim }
    var kvRowStride: Int { kvHeads * headDim }
    func qOffset(_ b: Int, _ h: Int) -> Int { b * queryLength * qRowStride + h * headDim }
    func kvOffset(_ b: Int, _ h: Int) -> Int { b * kvBatchStride + (h / group) * headDim }
    /// The visible key range of query row i in batch b.
    func visible(_ i: Int, keyStart: Int) -> Range<Int> {
        let hi = min(keyLength, i + keyLength - queryLength + 1)
        return keyStart < hi ? keyStart..<hi : 0..<0
    }
}

public enum Attention {
    public static func forward(
        q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
        o: UnsafeMutablePointer<Float>, lse: UnsafeMutablePointer<Float>,
        shape s: AttentionShape, keyStart: [Int]? = nil
    ) {
        let blas = BLAS.shared
        let T = s.queryLength, S = s.keyLength, D = s.headDim
        let scores = TensorStorage(count: T * S, zeroed: false)
        let p = scores.pointer
        for b in 0..<s.batch {
            let start = keyStart?[b] ?? 0
            for h in 0..<s.queryHeads {
                let qo = s.qOffset(b, h), kvo = s.kvOffset(b, h)
                blas.sgemm(transA: false, transB: true, m: T, n: S, k: D, alpha: s.scale,
                           a: q + qo, lda: s.qRowStride, b: k + kvo, ldb: s.kvRowStride, c: p, ldc: S)
                let lseRow = lse + (b * s.queryHeads + h) * T
                Parallel.forRanges(T, minPerThread: max(1, 16384 / max(S, 1))) { rows in
                    for i in rows {
                        let row = p + i * S
                        let vis = s.visible(i, keyStart: start)
                        if vis.isEmpty {
                            row.update(repeating: 0, count: S)
                            lseRow[i] = -.infinity
                            continue
                        }
                        let m = SIMDMath.max(row + vis.lowerBound, vis.count)
                        let sum = SIMDMath.sumExp(row + vis.lowerBound, vis.count, shift: m)
                        let l = m + Float(log(sum))
                        lseRow[i] = l
                        softmaxFromLSE(row, visible: vis, count: S, lse: l)
                    }
                }
                blas.sgemm(transA: false, transB: false, m: T, n: D, k: S,
                           a: p, lda: S, b: v + kvo, ldb: s.kvRowStride, c: o + qo, ldc: s.qRowStride)
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
        for b in 0..<s.batch {
            let start = keyStart?[b] ?? 0
            for h in 0..<s.queryHeads {
                let qo = s.qOffset(b, h), kvo = s.kvOffset(b, h)
                let lseRow = lse + (b * s.queryHeads + h) * T
                // P = softmax(scale * Q K^T), recomputed from the saved log-sum-exp.
                blas.sgemm(transA: false, transB: true, m: T, n: S, k: D, alpha: s.scale,
                           a: q + qo, lda: s.qRowStride, b: k + kvo, ldb: s.kvRowStride, c: p, ldc: S)
                Parallel.forRanges(T, minPerThread: max(1, 16384 / max(S, 1))) { rows in
                    for i in rows {
                        let vis = s.visible(i, keyStart: start)
                        if vis.isEmpty { (p + i * S).update(repeating: 0, count: S); continue }
                        softmaxFromLSE(p + i * S, visible: vis, count: S, lse: lseRow[i])
                    }
                }
                // dV += P^T dO ; dP = dO V^T
                blas.sgemm(transA: true, transB: false, m: S, n: D, k: T,
                           a: p, lda: S, b: dout + qo, ldb: s.qRowStride, beta: 1, c: dv + kvo, ldc: s.kvRowStride)
                blas.sgemm(transA: false, transB: true, m: T, n: S, k: D,
                           a: dout + qo, lda: s.qRowStride, b: v + kvo, ldb: s.kvRowStride, c: dp, ldc: S)
                // dS = P * (dP - rowsum(dO * O)), stored over P.
                Parallel.forRanges(T, minPerThread: max(1, 16384 / max(S, 1))) { rows in
                    for i in rows {
                        let di = SIMDMath.dot(dout + qo + i * s.qRowStride, o + qo + i * s.qRowStride, D)
                        let pr = p + i * S, dpr = dp + i * S
                        for j in s.visible(i, keyStart: start) { pr[j] = pr[j] * (dpr[j] - di) }
                    }
                }
                // dQ (+)= scale * dS K ; dK += scale * dS^T Q
                blas.sgemm(transA: false, transB: false, m: T, n: D, k: S, alpha: s.scale,
                           a: p, lda: S, b: k + kvo, ldb: s.kvRowStride, beta: accumulateDq ? 1 : 0, c: dq + qo, ldc: s.qRowStride)
                blas.sgemm(transA: true, transB: false, m: S, n: D, k: T, alpha: s.scale,
                           a: p, lda: S, b: q + qo, ldb: s.qRowStride, beta: 1, c: dk + kvo, ldc: s.kvRowStride)
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
