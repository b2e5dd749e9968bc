/// Embedding lookup: out[i, :] = table[ids[i], :] for table [V, C], ids [N].
public enum Embedding {
    public static func forward(table: UnsafePointer<Float>, ids: UnsafePointer<Int32>, out: UnsafeMutablePointer<Float>, n: Int, c: Int, vocab: Int) {
        for i in 0..<n {
            let id = Int(ids[i])
            precondition(id >= 0 && id < vocab, "token id \(id) at position \(i) is outside the vocabulary of \(vocab)")
        }
        Parallel.forRanges(n, minPerThread: max(1, 8192 / max(c, 1))) { r in
            for i in r { (out + i * c).update(from: table + Int(ids[i]) * c, count: c) }
        }
    }

    /// dtable[ids[i], :] += dout[i, :]. Threads own disjoint column ranges, so repeated ids
    /// never race.
    public static func backward(dout: UnsafePointer<Float>, ids: UnsafePointer<Int32>, dtable: UnsafeMutablePointer<Float>, n: Int, c: Int) {
        Parallel.forRanges(c, minPerThread: 64) { cols in
            for i in 0..<n {
                let src = dout + i * c, dst = dtable + Int(ids[i]) * c
                for j in cols { dst[j] += src[j] }
            }
        }
    }
}
