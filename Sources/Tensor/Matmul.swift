/// Tensor-level matrix multiply on top of `BLAS.sgemm`.
///
/// A matrix view can go to BLAS without a copy when one of its two last strides is 1: the
/// other stride is the leading dimension, and a unit row stride means "transposed".
struct BLASMatrix {
    let pointer: UnsafePointer<Float>
    let transposed: Bool
    let ld: Int

    /// The last two dimensions of `t` at element offset `base`; nil when the layout is not
    /// one BLAS can read (neither stride 1, or overlapping rows).
    init?(_ t: Tensor, base: Int) {
        let r = t.rank, rows = t.shape[r - 2], cols = t.shape[r - 1]
        let rs = rows == 1 ? max(cols, 1) : t.strides[r - 2]
        let cs = cols == 1 ? max(rows, 1) : t.strides[r - 1]
        pointer = UnsafePointer(t.storage.pointer + base)
        if cs == 1 && rs >= max(cols, 1) {
            transposed = false; ld = rs
        } else if rs == 1 && cs >= max(rows, 1) {
            transposed = true; ld = cs
        } else {
            return nil
        }
    }
}

extension Tensor {
    /// self [..., m, k] x other [..., k, n] -> [..., m, n]. Leading (batch) dimensions must be
    /// equal, or `other` may be a plain matrix shared by every batch entry.
    public func matmul(_ other: Tensor) -> Tensor {
        precondition(rank >= 2 && other.rank >= 2, "matmul needs matrices: \(shape) x \(other.shape)")
        let m = shape[rank - 2], k = shape[rank - 1], n = other.shape[other.rank - 1]
        precondition(other.shape[other.rank - 2] == k, "matmul inner dimensions differ: \(shape) x \(other.shape)")
        let batchShape = Array(shape.dropLast(2))
        let otherBatch = Array(other.shape.dropLast(2))
        precondition(otherBatch.isEmpty || otherBatch == batchShape, "matmul batch dimensions differ: \(shape) x \(other.shape)")
        let out = Tensor(uninitialized: batchShape + [m, n])
        let batches = Tensor.count(batchShape)
        let a = BLASMatrix(self, base: offset) != nil ? self : contiguous()
        let b = BLASMatrix(other, base: other.offset) != nil ? other : other.contiguous()
        var aOffsets: [Int] = [], bOffsets: [Int] = []
        forEachOffset(shape: batchShape, a: Array(a.strides.dropLast(2)), b: otherBatch.isEmpty ? batchShape.map { _ in 0 } : Array(b.strides.dropLast(2))) {
            aOffsets.append($0); bOffsets.append($1)
        }
        if batchShape.isEmpty { aOffsets = [0]; bOffsets = [0] }
        for i in 0..<batches {
            let am = BLASMatrix(a, base: a.offset + aOffsets[i])!, bm = BLASMatrix(b, base: b.offset + bOffsets[i])!
            BLAS.shared.sgemm(transA: am.transposed, transB: bm.transposed, m: m, n: n, k: k,
                              a: am.pointer, lda: am.ld, b: bm.pointer, ldb: bm.ld,
                              c: out.data + i * m * n, ldc: n)
        }
        return out
    }
}
