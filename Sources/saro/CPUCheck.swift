import Tensor
#if canImport(Glibc)
import Glibc
#endif

/// The kernels are compiled for x86-64-v3; stop with a clear message on an older CPU rather
/// than crash later on an illegal instruction.
enum CPUCheck {
    static func requireSupported() {
        let cpu = CPUFeatures.current
        if !cpu.supportsBuildTarget {
            fputs("saro: this CPU lacks AVX2/FMA/F16C (x86-64-v3), which saro's kernels are built for.\n", stderr)
            exit(2)
        }
    }
}
