/// Vectorised transcendental functions for the kernels (Swift has no SIMD exp).
///
/// `exp` follows the classic Cephes expf scheme: x = n ln2 + r with |r| <= ln2/2, a degree-6
/// polynomial for e^r, and 2^n built in the exponent bits. Relative error is about 2 ulp over
/// the clamped range [-87.3, 88.7]; below that it returns about 1e-38 instead of 0, which is
/// harmless after softmax's max subtraction.
public typealias Vec8 = SIMD8<Float>

public enum SIMDMath {
    @inline(__always)
    public static func exp(_ x: Vec8) -> Vec8 {
        // Clamped with masks: `clamped(lowerBound:upperBound:)` calls a generic, non-inlined
        // pointwise min/max, while `replacing(with:where:)` compiles to vmaxps and a blend.
        let lo = Vec8(repeating: -87.3), hi = Vec8(repeating: 88.7)
        let x = x.replacing(with: lo, where: x .< lo).replacing(with: hi, where: x .> hi)
        // Adding 1.5 * 2^23 rounds to an integer held in the low mantissa bits: n as a float
        // and as an Int32 without a (slow, per-lane) generic conversion.
        let magic = Vec8(repeating: 12_582_912)
        let shifted = x * 1.442_695_04 + magic
        let n = shifted - magic
        var r = x - n * 0.693_359_375
        r = r + n * 2.121_944_4e-4
        var p: Vec8 = Vec8(repeating: 1.987_569_15e-4)
        p = p * r + 1.398_199_95e-3
        p = p * r + 8.333_451_9e-3
        p = p * r + 4.166_579_59e-2
        p = p * r + 1.666_666_55e-1
        p = p * r + 5.000_000_12e-1
        let er = p * r * r + r + 1
        let bits = (unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- 0x4B40_0000 &+ 127) &<< 23
        return er * unsafeBitCast(bits, to: Vec8.self)
    }

    @inline(__always)
    public static func sigmoid(_ x: Vec8) -> Vec8 { 1 / (1 + exp(-x)) }

    /// Loads 8 floats from p (no alignment needed).
    @inline(__always)
    public static func load(_ p: UnsafePointer<Float>) -> Vec8 {
        UnsafeRawPointer(p).loadUnaligned(as: Vec8.self)
    }

    @inline(__always)
    public static func store(_ v: Vec8, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vec8.self)
    }

    /// max over p[0..<n].
    @inline(__always)
    public static func max(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
        var m = Vec8(repeating: -.infinity)
        var i = 0
        while i + 8 <= n { let v = load(p + i); m = m.replacing(with: v, where: v .> m); i += 8 }
        var s = m.max()
        while i < n { s = Swift.max(s, p[i]); i += 1 }
        return s
    }

    /// sum over p[0..<n] of exp(p[i] - shift), accumulated per lane in Float then in Double.
    @inline(__always)
    public static func sumExp(_ p: UnsafePointer<Float>, _ n: Int, shift: Float) -> Double {
        var acc = Vec8()
        var i = 0
        let s = Vec8(repeating: shift)
        while i + 8 <= n { acc += exp(load(p + i) - s); i += 8 }
        var total = Double(acc.sum())
        while i < n { total += Double(scalarExp(p[i] - shift)); i += 1 }
        return total
    }

    /// Dot product of two float arrays, accumulated in 8 lanes.
    @inline(__always)
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = Vec8()
        var i = 0
        while i + 8 <= n { acc = acc.addingProduct(load(a + i), load(b + i)); i += 8 }
        var s = acc.sum()
        while i < n { s += a[i] * b[i]; i += 1 }
        return s
    }

    @inline(__always)
    public static func scalarExp(_ x: Float) -> Float { exp(Vec8(repeating: x))[0] }
}
