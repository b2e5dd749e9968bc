import ArgumentParser
import Foundation
import Tensor

/// `saro system`: what saro found on this machine (CPU features, BLAS and its kernel), and
/// with `--check-gemm` whether that BLAS computes training's products right on this CPU.
struct SystemCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "system",
        abstract: "Show the CPU features, BLAS library, kernel and thread count saro uses.",
        discussion: """
            The BLAS is oneDNN unless SARO_BLAS=openblas (or SARO_BLAS_LIB names a file). OpenBLAS \
            runs the kernel family in OPENBLAS_CORETYPE when that is set; otherwise saro sets the \
            family it chooses for this CPU. oneDNN's OpenMP threads spin GOMP_SPINCOUNT times \
            waiting for work before they sleep: saro sets \(BLAS.gompSpinCount) unless it is set, \
            so a waiting thread soon gives its core back. --check-gemm compares the loaded library's products \
            on training's shapes with a double-precision reference and exits 1 if one is wrong.
            """)

    @Flag(help: "Print JSON.") var json = false
    @Flag(name: .customLong("check-gemm"), help: "Check the BLAS's products against a double-precision reference.")
    var checkGemm = false

    struct Info: Codable {
        var cpu: CPUFeatures
        var blas: String
        var library: String
        var kernel: String
        var openblas_coretype_requested: String?
        var openblas_coretype_set: String?
        var gomp_spincount: String?
        var blas_threads: Int
        var kernel_threads: Int
        var gemm_check: [GemmCheck.Result]?
    }

    func run() throws {
        let blas = BLAS.shared
        let cpu = CPUFeatures.current
        let checks = checkGemm ? GemmCheck.checkAll(blas) : nil
        if json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try enc.encode(Info(
                cpu: cpu, blas: blas.backend.rawValue, library: blas.libraryPath, kernel: blas.kernel,
                openblas_coretype_requested: blas.coreTypeRequested, openblas_coretype_set: blas.coreTypeSet, gomp_spincount: blas.ompSpinCount,
                blas_threads: blas.threads, kernel_threads: Parallel.threads, gemm_check: checks)), as: UTF8.self))
        } else {
            print("CPU: \(cpu.vendor) family \(cpu.family) model \(cpu.model); AVX2 \(cpu.avx2), FMA \(cpu.fma), AVX-512 \(cpu.avx512f)")
            print("BLAS: \(blas.backend.rawValue) from \(blas.libraryPath); kernel \(blas.kernel); \(blas.threads) threads")
            if let core = blas.coreTypeSet {
                print("OPENBLAS_CORETYPE set by saro to \(core) before loading OpenBLAS")
            } else if let core = blas.coreTypeRequested {
                print("OPENBLAS_CORETYPE=\(core) from the environment")
            }
            if let spin = blas.ompSpinCount {
                print("GOMP_SPINCOUNT=\(spin): idle OpenMP threads spin \(spin) times, then sleep" + (spin == BLAS.gompSpinCount ? " (saro's default)" : ""))
            }
            print("kernel threads: \(Parallel.threads)")
            for r in checks ?? [] {
                print("gemm \(r.shape): max error \(String(format: "%.2e", r.maxError)) (limit \(String(format: "%.2e", r.tolerance))) \(r.passed ? "ok" : "WRONG")")
            }
        }
        if let checks, let bad = checks.first(where: { !$0.passed }) {
            throw CommandError("\(blas.backend.rawValue) (kernel \(blas.kernel)) computes a wrong product at \(bad.shape): "
                + "error \(bad.maxError), limit \(bad.tolerance); choose another kernel with OPENBLAS_CORETYPE or another library with SARO_BLAS")
        }
    }
}
