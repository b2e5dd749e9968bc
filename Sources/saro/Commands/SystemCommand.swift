import ArgumentParser
import Foundation
import Tensor

/// `saro system`: what saro found on this machine (CPU features, BLAS and its kernel).
struct SystemCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "system",
        abstract: "Show the CPU features, BLAS library, kernel and thread count saro uses.")

    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let blas = BLAS.shared
        let cpu = CPUFeatures.current
        if json {
            struct Info: Codable { var cpu: CPUFeatures; var blas: String; var library: String; var kernel: String; var openblas_coretype_set: String?; var blas_threads: Int; var kernel_threads: Int }
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try enc.encode(Info(cpu: cpu, blas: blas.backend.rawValue, library: blas.libraryPath, kernel: blas.kernel,
                                                        openblas_coretype_set: blas.coreTypeSet, blas_threads: blas.threads,
                                                        kernel_threads: Parallel.threads)), as: UTF8.self))
        } else {
            print("CPU: \(cpu.vendor) family \(cpu.family) model \(cpu.model); AVX2 \(cpu.avx2), FMA \(cpu.fma), AVX-512 \(cpu.avx512f)")
            print("BLAS: \(blas.backend.rawValue) from \(blas.libraryPath); kernel \(blas.kernel); \(blas.threads) threads")
            if let core = blas.coreTypeSet { print("OPENBLAS_CORETYPE set by saro to \(core) before loading OpenBLAS") }
            print("kernel threads: \(Parallel.threads)")
        }
    }
}
