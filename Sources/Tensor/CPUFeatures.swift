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

    /// The OpenBLAS kernel family that matches this CPU, or nil when OpenBLAS's own choice is
    /// as good as any. Debian's OpenBLAS 0.3.21 maps some virtualised AMD and newer Intel
    /// CPUs to a generic kernel; naming the family explicitly avoids that.
    public var openBLASCoreType: String? {
        guard avx2 && fma else { return nil }
        if avx512f { return "SkylakeX" }
        return vendor == "AMD" ? "Zen" : "Haswell"
    }
}
