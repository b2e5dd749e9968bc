import Foundation
import Tensor
import Testing

/// `saro system --check-gemm` in processes of their own: OpenBLAS picks its kernel once, when it
/// loads, from OPENBLAS_CORETYPE, so each environment needs a fresh process.
@Suite(.tags(.process)) struct SystemCommandTests {
    struct Info: Decodable {
        let blas: String
        let kernel: String
        let openblas_coretype_requested: String?
        let openblas_coretype_set: String?
        struct Check: Decodable { let maxError: Double; let tolerance: Double; let paddingKept: Bool }
        let gemm_check: [Check]?
    }

    /// This process's environment with OpenBLAS chosen and OPENBLAS_CORETYPE as given (nil: unset).
    static func environment(coreType: String?) -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["SARO_BLAS"] = "openblas"
        env["SARO_BLAS_LIB"] = nil
        env["OPENBLAS_CORETYPE"] = coreType
        return env
    }

    static func system(coreType: String?) throws -> Info {
        let r = try CLITests.saro(["system", "--json", "--check-gemm"], environment: environment(coreType: coreType))
        #expect(r.status == 0, "OPENBLAS_CORETYPE=\(coreType ?? "unset"): \(r.err)")
        return try JSONDecoder().decode(Info.self, from: Data(r.out.utf8))
    }

    static func expectRightProducts(_ info: Info, _ label: String) {
        let checks = info.gemm_check ?? []
        #expect(checks.count == GemmCheck.trainingShapes.count, "\(label)")
        for c in checks { #expect(c.maxError < c.tolerance && c.paddingKept, "\(label): error \(c.maxError)") }
    }

    /// With no OPENBLAS_CORETYPE, saro sets its own choice for this CPU and OpenBLAS runs it.
    @Test func withoutAChoiceOpenBLASRunsSarosKernel() throws {
        let info = try Self.system(coreType: nil)
        #expect(info.blas == "openblas")
        if let expected = CPUFeatures.current.openBLASCoreType {
            #expect(info.openblas_coretype_set == expected)
            #expect(info.kernel.lowercased() == expected.lowercased())
        }
        Self.expectRightProducts(info, "saro's choice")
    }

    /// The user's choice is kept, never overwritten, for every kernel saro may pick that this
    /// CPU runs; and each of them computes training's products right.
    @Test(arguments: CPUFeatures.current.openBLASCoreTypesToCheck)
    func theUsersKernelIsKeptAndComputesRight(coreType: String) throws {
        let info = try Self.system(coreType: coreType)
        #expect(info.openblas_coretype_set == nil)
        #expect(info.openblas_coretype_requested == coreType)
        #expect(info.kernel.lowercased() == coreType.lowercased())
        Self.expectRightProducts(info, coreType)
    }

    /// A BLAS library that does not load is an error naming what was tried and what to
    /// install, before any work (it was a trap inside the first product); help still prints.
    @Test func aMissingBLASIsAClearErrorNotATrap() throws {
        var env = ProcessInfo.processInfo.environment
        env["SARO_BLAS_LIB"] = "/nonexistent/libopenblas.so"
        let r = try CLITests.saro(["generate", "hello", "--max-tokens", "1"], environment: env)
        #expect(r.status == 1 && !r.signalled, "status \(r.status): \(r.err)")
        #expect(r.err.contains("no BLAS library could be loaded (tried /nonexistent/libopenblas.so") && r.err.contains("apt-get install"), "\(r.err)")
        let help = try CLITests.saro(["generate", "--help"], environment: env)
        #expect(help.status == 0 && help.out.contains("OVERVIEW"), "\(help.err)")
    }

    /// The command line reads SARO_* once and hands the libraries its settings; a value it
    /// cannot use is named in a warning and the default kept.
    @Test func settingsComeFromTheEnvironmentOfTheCommandLine() throws {
        var env = ProcessInfo.processInfo.environment
        env["SARO_THREADS"] = "1"
        let one = try CLITests.saro(["system", "--json"], environment: env)
        struct Threads: Decodable { let kernel_threads: Int }
        #expect(try JSONDecoder().decode(Threads.self, from: Data(one.out.utf8)).kernel_threads == 1, "\(one.out)")
        env["SARO_THREADS"] = "many"
        let bad = try CLITests.saro(["system", "--json"], environment: env)
        #expect(bad.status == 0 && bad.err.contains("SARO_THREADS=many"), "\(bad.err)")
        #expect(try JSONDecoder().decode(Threads.self, from: Data(bad.out.utf8)).kernel_threads == ProcessInfo.processInfo.activeProcessorCount)
    }

    /// oneDNN's idle OpenMP threads spin saro's count unless the user set one, which is kept.
    @Test func openMPSpinIsSarosUnlessGiven() throws {
        struct Spin: Decodable { let blas: String; let gomp_spincount: String? }
        var env = ProcessInfo.processInfo.environment
        env["SARO_BLAS"] = nil; env["SARO_BLAS_LIB"] = nil
        env["GOMP_SPINCOUNT"] = nil
        let saros = try CLITests.saro(["system", "--json"], environment: env)
        let s = try JSONDecoder().decode(Spin.self, from: Data(saros.out.utf8))
        #expect(s.blas == "dnnl" && s.gomp_spincount == BLAS.gompSpinCount, "\(saros.out)")
        env["GOMP_SPINCOUNT"] = "50"
        let users = try CLITests.saro(["system"], environment: env)
        #expect(users.out.contains("GOMP_SPINCOUNT=50: idle OpenMP threads spin 50 times, then sleep\n"), "\(users.out)")
    }

    /// The text output says where the kernel came from.
    @Test func textOutputNamesTheSourceOfTheKernel() throws {
        let user = try CLITests.saro(["system"], environment: Self.environment(coreType: "Haswell"))
        #expect(user.status == 0, "\(user.err)")
        #expect(user.out.contains("OPENBLAS_CORETYPE=Haswell from the environment"))
        #expect(user.out.contains("kernel Haswell"))
    }

    /// `saro bench gemm`'s numpy reference runs as numpy's users run it: a kernel forced for
    /// saro's OpenBLAS (here the generic Prescott) does not reach it, and it reports its kernel.
    @Test func gemmBenchReferenceIgnoresTheForcedKernel() throws {
        var env = ProcessInfo.processInfo.environment
        env["OPENBLAS_CORETYPE"] = "Prescott"
        env["OPENBLAS_L2_SIZE"] = "512"
        let r = try CLITests.saro(["bench", "gemm", "--shapes", "96x96x96", "--runs", "1", "--rounds", "1", "--json"], environment: env)
        #expect(r.status == 0, "\(r.err)")
        struct Report: Decodable { struct Shape: Decodable { let ratio: Double? }; let shapes: [Shape]; let numpy_kernel: String? }
        let report = try JSONDecoder().decode(Report.self, from: Data(r.out.utf8))
        let kernel = try #require(report.numpy_kernel, "the reference names its kernel: \(r.out)")
        #expect(kernel.lowercased() != "prescott", "numpy ran the kernel forced for saro")
        #expect(report.shapes.first?.ratio != nil)
    }
}
