import CSupport

/// What the processor offers, read once with CPUID.
public struct CPUFeatures: Sendable, Codable {
    public let vendor: String
    public let family: Int
    public let model: Int
    public let avx2: Bool
    public let fma: Bool
    public let f16c: Bool
    public let avx512f: Bool

    public static let current: CPUFeatures = {
        let f = saro_cpu_detect()
        return CPUFeatures(
            vendor: f.is_amd != 0 ? "AMD" : (f.is_intel != 0 ? "Intel" : "other"),
            family: Int(f.family), model: Int(f.model),
            avx2: f.avx2 != 0, fma: f.fma != 0, f16c: f.f16c != 0, avx512f: f.avx512f != 0)
    }()

    /// The kernels are compiled for x86-64-v3 (AVX2, FMA, F16C).
    public var supportsBuildTarget: Bool { avx2 && fma && f16c }

    /// The OpenBLAS kernel family saro names for this CPU, or nil when OpenBLAS's own choice
    /// is as good as any. Debian's OpenBLAS 0.3.21 predates Zen 5 (AMD family 26): it finds no
    /// table for it and falls back to a slow generic kernel, so the family is named explicitly.
    /// SkylakeX's AVX-512 kernels only on Intel: that build never ran them on AMD's AVX-512
    /// parts (Zen 4 and 5), where older OpenBLAS builds are known to give wrong results or
    /// crash, and those machines' own setting is Haswell, whose AVX2 kernels every AMD part
    /// since Zen runs. AMD without AVX-512 gets Zen, the table OpenBLAS itself picks there.
    public var openBLASCoreType: String? {
        guard avx2 && fma else { return nil }
        if vendor == "AMD" { return avx512f ? "Haswell" : "Zen" }
        return avx512f ? "SkylakeX" : "Haswell"
    }

    /// The kernel families `openBLASCoreType` names on CPUs of this vendor that this CPU can
    /// run: the ones whose products the tests check against a double-precision reference.
    /// (SkylakeX is not among AMD's: saro never names it there, so its results on AMD parts do
    /// not decide anything saro computes.)
    public var openBLASCoreTypesToCheck: [String] {
        guard avx2 && fma else { return [] }
        if vendor == "AMD" { return ["Haswell", "Zen"] }
        return avx512f ? ["Haswell", "SkylakeX"] : ["Haswell"]
    }
}
