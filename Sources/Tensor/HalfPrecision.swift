/// Conversions between Float32 and the 16-bit storage formats of checkpoints.
///
/// BF16 is the top half of a Float32; conversion to it rounds to nearest even, as PyTorch
/// does. F16 uses the hardware conversion (F16C on x86-64-v3) through Swift's Float16.
public enum HalfPrecision {
    @inlinable
    public static func bf16ToFloat(_ bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }

    @inlinable
    public static func floatToBF16(_ x: Float) -> UInt16 {
        let bits = x.bitPattern
        if x.isNaN { return UInt16(bits >> 16) | 0x0040 }  // keep NaN a NaN (quiet bit)
        let roundingBias: UInt32 = 0x7FFF + ((bits >> 16) & 1)
        return UInt16((bits &+ roundingBias) >> 16)
    }

    @inlinable
    public static func f16ToFloat(_ bits: UInt16) -> Float { Float(Float16(bitPattern: bits)) }

    @inlinable
    public static func floatToF16(_ x: Float) -> UInt16 { Float16(x).bitPattern }

    /// Decodes `count` little-endian BF16 values into `out`.
    public static func decodeBF16(_ src: UnsafeRawPointer, count: Int, into out: UnsafeMutablePointer<Float>) {
        let s = src.assumingMemoryBound(to: UInt16.self)
        Parallel.forRanges(count, minPerThread: 1 << 16) { r in
            for i in r { out[i] = bf16ToFloat(UInt16(littleEndian: s[i])) }
        }
    }

    /// Decodes `count` little-endian F16 values into `out`.
    public static func decodeF16(_ src: UnsafeRawPointer, count: Int, into out: UnsafeMutablePointer<Float>) {
        let s = src.assumingMemoryBound(to: UInt16.self)
        Parallel.forRanges(count, minPerThread: 1 << 16) { r in
            for i in r { out[i] = f16ToFloat(UInt16(littleEndian: s[i])) }
        }
    }
}

extension Tensor {
    /// A tensor decoded from BF16 values.
    public init(bf16 bits: [UInt16], shape: [Int]) {
        precondition(bits.count == Tensor.count(shape), "\(bits.count) values do not fill shape \(shape)")
        self.init(uninitialized: shape)
        let out = data
        bits.withUnsafeBytes { HalfPrecision.decodeBF16($0.baseAddress!, count: bits.count, into: out) }
    }

    /// A tensor decoded from F16 values.
    public init(f16 bits: [UInt16], shape: [Int]) {
        precondition(bits.count == Tensor.count(shape), "\(bits.count) values do not fill shape \(shape)")
        self.init(uninitialized: shape)
        let out = data
        bits.withUnsafeBytes { HalfPrecision.decodeF16($0.baseAddress!, count: bits.count, into: out) }
    }

    /// The elements rounded to BF16 (row-major).
    public var bf16Bits: [UInt16] { scalars.map(HalfPrecision.floatToBF16) }

    /// The elements rounded to F16 (row-major).
    public var f16Bits: [UInt16] { scalars.map(HalfPrecision.floatToF16) }
}
