import Foundation

/// Time spent in `BLAS.sgemm` by call shape, for finding which products dominate a workload:
/// with `RuntimeSettings.gemmProfile` (SARO_GEMM_PROFILE=1 for the CLI) every call is timed, and the table (shape,
/// calls, seconds, GFLOP/s) goes to standard error when the process exits.
enum GemmProfile {
    static let enabled: Bool = {
        guard RuntimeSettings.current.gemmProfile else { return false }
        atexit { GemmProfile.report() }
        return true
    }()

    private struct Key: Hashable { var transA: Bool, transB: Bool, m: Int, n: Int, k: Int }
    private static let lock = NSLock()
    nonisolated(unsafe) private static var table: [Key: (calls: Int, seconds: Double)] = [:]

    static func record(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, seconds: Double) {
        lock.lock(); defer { lock.unlock() }
        let key = Key(transA: transA, transB: transB, m: m, n: n, k: k)
        let old = table[key] ?? (0, 0)
        table[key] = (old.calls + 1, old.seconds + seconds)
    }

    static func report() {
        lock.lock(); defer { lock.unlock() }
        let total = table.values.reduce(0) { $0 + $1.seconds }
        var lines = ["sgemm profile: \(String(format: "%.2f", total)) s in \(table.values.reduce(0) { $0 + $1.calls }) calls"]
        for (key, v) in table.sorted(by: { $0.value.seconds > $1.value.seconds }).prefix(40) {
            let flops = 2.0 * Double(key.m * key.n * key.k) * Double(v.calls)
            lines.append(String(format: "%@%@ m %6d n %6d k %6d  calls %6d  %7.3f s  %6.1f GFLOP/s",
                                key.transA ? "T" : "N", key.transB ? "T" : "N", key.m, key.n, key.k, v.calls, v.seconds, flops / v.seconds / 1e9))
        }
        FileHandle.standardError.write((lines.joined(separator: "\n") + "\n").data(using: .utf8)!)
    }
}
