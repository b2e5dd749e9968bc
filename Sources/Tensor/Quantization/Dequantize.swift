/// Decoding ggml's block formats to Float32, following ggml's reference dequantizers
/// (`dequantize_row_*` in ggml-quants.c): the same arithmetic, so the values equal
/// what llama.cpp and transformers' GGUF loader produce.
public enum Dequantize {
    /// Decodes `count` weights of `type` from `src` into `out`. `count` must be a whole number
    /// of blocks. Blocks are independent, so the work is split over the cores.
    public static func run(_ type: GGMLType, _ src: UnsafeRawPointer, count: Int, into out: UnsafeMutablePointer<Float>) {
        precondition(type.canDequantize, "cannot dequantize \(type)")
        precondition(count % type.blockSize == 0, "\(count) weights are not whole \(type) blocks of \(type.blockSize)")
        switch type {
        case .f32:
            out.update(from: src.assumingMemoryBound(to: Float.self), count: count)
            return
        case .f16: HalfPrecision.decodeF16(src, count: count, into: out); return
        case .bf16: HalfPrecision.decodeBF16(src, count: count, into: out); return
        default: break
        }
        let blocks = count / type.blockSize
        Parallel.forRanges(blocks, minPerThread: 256) { range in
            for b in range {
                let block = src + b * type.blockBytes
                let y = out + b * type.blockSize
                switch type {
                case .q8_0: q8_0(block, y)
                case .q4_0: q4_0(block, y)
                case .q4_1: q4_1(block, y)
                case .q4_K: q4_K(block, y)
                case .q5_K: q5_K(block, y)
                case .q6_K: q6_K(block, y)
                default: fatalError("unreachable")
                }
            }
        }
    }

    @inline(__always) static func f16(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
        HalfPrecision.f16ToFloat(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
    }
    @inline(__always) static func u8(_ p: UnsafeRawPointer, _ offset: Int) -> UInt8 { p.load(fromByteOffset: offset, as: UInt8.self) }

    /// Q8_0: f16 d, int8 q[32]; y = d * q.
    static func q8_0(_ b: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = f16(b, 0)
        for j in 0..<32 { y[j] = d * Float(b.load(fromByteOffset: 2 + j, as: Int8.self)) }
    }

    /// Q4_0: f16 d, 16 bytes of nibbles; low nibbles are weights 0..15, high 16..31; y = d * (q - 8).
    static func q4_0(_ b: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = f16(b, 0)
        for j in 0..<16 {
            let q = u8(b, 2 + j)
            y[j] = d * Float(Int(q & 0xF) - 8)
            y[j + 16] = d * Float(Int(q >> 4) - 8)
        }
    }

    /// Q4_1: f16 d, f16 m, 16 bytes of nibbles; y = d * q + m.
    static func q4_1(_ b: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = f16(b, 0), m = f16(b, 2)
        for j in 0..<16 {
            let q = u8(b, 4 + j)
            y[j] = d * Float(q & 0xF) + m
            y[j + 16] = d * Float(q >> 4) + m
        }
    }

    /// The 6-bit scale and min of sub-block j from the 12 packed bytes of a K-quant block.
    @inline(__always) static func scaleMinK4(_ j: Int, _ q: UnsafeRawPointer) -> (Float, Float) {
        if j < 4 {
            return (Float(u8(q, j) & 63), Float(u8(q, j + 4) & 63))
        }
        let sc = (u8(q, j + 4) & 0xF) | ((u8(q, j - 4) >> 6) << 4)
        let m = (u8(q, j + 4) >> 4) | ((u8(q, j) >> 6) << 4)
        return (Float(sc), Float(m))
    }

    /// Q4_K: f16 d, f16 dmin, 12 bytes of 6-bit scales/mins, 128 bytes of nibbles (256 weights
    /// in 8 sub-blocks of 32); y = d * sc * q - dmin * m.
    static func q4_K(_ b: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = f16(b, 0), dmin = f16(b, 2)
        let scales = b + 4
        var q = b + 16
        var out = y
        for pair in 0..<4 {
            let (sc1, m1) = scaleMinK4(2 * pair, scales), (sc2, m2) = scaleMinK4(2 * pair + 1, scales)
            let d1 = d * sc1, dm1 = dmin * m1, d2 = d * sc2, dm2 = dmin * m2
            for l in 0..<32 { out[l] = d1 * Float(u8(q, l) & 0xF) - dm1 }
            for l in 0..<32 { out[32 + l] = d2 * Float(u8(q, l) >> 4) - dm2 }
            q += 32
            out += 64
        }
    }

    /// Q5_K: as Q4_K plus a fifth bit per weight from 32 bytes of high bits.
    static func q5_K(_ b: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = f16(b, 0), dmin = f16(b, 2)
        let scales = b + 4, qh = b + 16
        var ql = b + 48
        var out = y
        var u1: UInt8 = 1, u2: UInt8 = 2
        for pair in 0..<4 {
            let (sc1, m1) = scaleMinK4(2 * pair, scales), (sc2, m2) = scaleMinK4(2 * pair + 1, scales)
            let d1 = d * sc1, dm1 = dmin * m1, d2 = d * sc2, dm2 = dmin * m2
            for l in 0..<32 { out[l] = d1 * Float(Int(u8(ql, l) & 0xF) + (u8(qh, l) & u1 != 0 ? 16 : 0)) - dm1 }
            for l in 0..<32 { out[32 + l] = d2 * Float(Int(u8(ql, l) >> 4) + (u8(qh, l) & u2 != 0 ? 16 : 0)) - dm2 }
            ql += 32
            out += 64
            u1 <<= 2
            u2 <<= 2
        }
    }

    /// Q6_K: 128 bytes low nibbles, 64 bytes of 2-bit highs, 16 int8 scales, f16 d;
    /// y = d * scale * (q - 32) for 16 sub-blocks of 16.
    static func q6_K(_ b: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = f16(b, 208)
        var ql = b, qh = b + 128, sc = b + 192
        var out = y
        for _ in 0..<2 {
            for l in 0..<32 {
                let i = l / 16
                let h = u8(qh, l)
                let q1 = Int((u8(ql, l) & 0xF) | ((h & 3) << 4)) - 32
                let q2 = Int((u8(ql, l + 32) & 0xF) | (((h >> 2) & 3) << 4)) - 32
                let q3 = Int((u8(ql, l) >> 4) | (((h >> 4) & 3) << 4)) - 32
                let q4 = Int((u8(ql, l + 32) >> 4) | (((h >> 6) & 3) << 4)) - 32
                out[l] = d * Float(sc.load(fromByteOffset: i, as: Int8.self)) * Float(q1)
                out[l + 32] = d * Float(sc.load(fromByteOffset: i + 2, as: Int8.self)) * Float(q2)
                out[l + 64] = d * Float(sc.load(fromByteOffset: i + 4, as: Int8.self)) * Float(q3)
                out[l + 96] = d * Float(sc.load(fromByteOffset: i + 6, as: Int8.self)) * Float(q4)
            }
            out += 128
            ql += 64
            qh += 32
            sc += 8
        }
    }
}
