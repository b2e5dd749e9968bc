import Support
import ArgumentParser
import Foundation
import Tensor

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure saro's speed against a reference run on this machine.",
        subcommands: [GemmBench.self, GenerateBench.self, TrainBench.self, ServeBench.self]
    )
}

/// `saro bench gemm`: sgemm GFLOP/s at the shapes a 135M-1B model's training uses, beside
/// numpy's matmul measured in the same run.
struct GemmBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gemm",
        abstract: "Benchmark float32 matrix multiply (sgemm) against numpy.",
        discussion: """
            Times C = A B at 1024x1024x1024 and 512x4864x896 (m x n x k), best of --runs calls \
            after a warm-up, checks sampled entries against a double-precision reference, and, \
            unless --no-reference, runs numpy's matmul on the same shapes with python3 and prints \
            the ratio. The BLAS in use and its kernel are reported; see SARO_BLAS and \
            SARO_BLAS_LIB to choose another.
            """
    )

    @Flag(help: "Print JSON instead of a table.") var json = false
    @Option(help: "Timed calls per shape and round; the best is kept.") var runs = 10
    @Option(help: "Rounds of saro then numpy, alternating.") var rounds = 3
    @Flag(inversion: .prefixedNo, help: "Also measure numpy's matmul (python3 with numpy) on the same shapes.")
    var reference = true
    @Option(help: "Shapes as MxNxK, comma-separated.") var shapes = "1024x1024x1024,512x4864x896"

    func run() throws {
        let parsed = try shapes.split(separator: ",").map { s -> (Int, Int, Int) in
            let d = s.split(separator: "x").compactMap { Int($0) }
            guard d.count == 3, d.allSatisfy({ $0 > 0 }) else { throw ValidationError("--shapes: '\(s)' is not MxNxK") }
            return (d[0], d[1], d[2])
        }
        let blas = BLAS.shared
        // Alternate saro's and numpy's measurements for --rounds rounds and keep each side's
        // best, so a burst of load on a shared machine does not land on one side only.
        var rows: [GemmReport.Shape] = parsed.map { .init(m: $0.0, n: $0.1, k: $0.2, gflops: 0, max_relative_error: 0) }
        var note: String? = nil
        var numpyKernel: String? = nil
        for _ in 0..<max(1, rounds) {
            for (i, (m, n, k)) in parsed.enumerated() {
                let r = GemmBenchmark.run(m: m, n: n, k: k, runs: runs)
                if r.gflops > rows[i].gflops { rows[i].gflops = r.gflops }
                rows[i].max_relative_error = max(rows[i].max_relative_error, r.maxRelativeError)
            }
            guard reference, note == nil else { continue }
            do {
                let numpy = try NumpyReference.measure(shapes: parsed, runs: runs)
                for i in rows.indices { rows[i].numpy_gflops = max(rows[i].numpy_gflops ?? 0, numpy.gflops[i]) }
                numpyKernel = numpy.kernel ?? "unknown (no OpenBLAS found in numpy's process)"
            } catch {
                note = "numpy reference not measured: \(error)"
            }
        }
        for i in rows.indices { if let np = rows[i].numpy_gflops { rows[i].ratio = rows[i].gflops / np } }
        let report = GemmReport(
            blas: blas.backend.rawValue, library: blas.libraryPath, kernel: blas.kernel,
            openblas_coretype_set: blas.coreTypeSet, threads: blas.threads, cpu: CPUFeatures.current, shapes: rows,
            numpy_kernel: numpyKernel, note: note)
        if json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try enc.encode(report), as: UTF8.self))
        } else {
            print("BLAS: \(report.blas) (\(report.library)), kernel \(report.kernel), \(report.threads) threads")
            for r in rows {
                var line = String(format: "%5d x %5d x %5d  %7.1f GFLOP/s", r.m, r.n, r.k, r.gflops)
                if let np = r.numpy_gflops, let ratio = r.ratio { line += String(format: "   numpy %7.1f GFLOP/s   ratio %.2fx", np, ratio) }
                line += String(format: "   max rel. error %.1e", r.max_relative_error)
                print(line)
            }
            if let k = numpyKernel {
                print("numpy: OpenBLAS kernel \(k), with \(NumpyReference.unsetForReference.joined(separator: " and ")) unset for it (as numpy's users run it)")
            }
            if let note { print(note) }
        }
    }
}

struct GemmReport: Codable {
    struct Shape: Codable {
        var m: Int, n: Int, k: Int
        var gflops: Double
        var max_relative_error: Double
        var numpy_gflops: Double? = nil
        var ratio: Double? = nil
    }
    var blas: String
    var library: String
    var kernel: String
    var openblas_coretype_set: String?
    var threads: Int
    var cpu: CPUFeatures
    var shapes: [Shape]
    /// The OpenBLAS kernel numpy's process ran.
    var numpy_kernel: String?
    var note: String?
}

/// Runs numpy's float32 matmul in a python3 subprocess, timed the same way (best of N), the way
/// numpy's users run it: OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE, which some machines set for
/// older OpenBLAS builds (saro's fallback among them) and which slow a current numpy, are unset
/// for the reference alone. It reports the kernel its OpenBLAS ran.
enum NumpyReference {
    static let unsetForReference = ["OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"]

    static let script = """
        import sys, time, json, ctypes
        import numpy as np
        runs = int(sys.argv[1]); out = []
        for s in sys.argv[2:]:
            m, n, k = map(int, s.split("x"))
            a = np.random.rand(m, k).astype(np.float32); b = np.random.rand(k, n).astype(np.float32)
            a @ b
            best = 1e9
            for _ in range(runs):
                t = time.perf_counter(); a @ b; best = min(best, time.perf_counter() - t)
            out.append(2.0 * m * n * k / best / 1e9)
        kernel = None
        for lib in sorted({l.split()[-1] for l in open("/proc/self/maps") if "openblas" in l.lower() and l.split()[-1].startswith("/")}):
            for name in ("scipy_openblas_get_corename64_", "scipy_openblas_get_corename", "openblas_get_corename64_", "openblas_get_corename"):
                f = getattr(ctypes.CDLL(lib), name, None)
                if f is not None and kernel is None:
                    f.restype = ctypes.c_char_p
                    kernel = f().decode()
        print(json.dumps({"gflops": out, "kernel": kernel}))
        """

    struct Measured: Decodable { let gflops: [Double]; let kernel: String? }

    static func measure(shapes: [(Int, Int, Int)], runs: Int) throws -> Measured {
        let environment = LibraryEnvironment.forChildren.filter { !unsetForReference.contains($0.key) }
        let r = try Subprocess.run(["python3", "-c", script, String(runs)] + shapes.map { "\($0.0)x\($0.1)x\($0.2)" }, environment: environment)
        guard r.succeeded, let measured = try? JSONDecoder().decode(Measured.self, from: r.stdout), measured.gflops.count == shapes.count else {
            throw ValidationError("python3/numpy failed (exit \(r.status)): \(r.stderrTail(1))")
        }
        return measured
    }
}
