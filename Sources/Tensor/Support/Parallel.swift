import CSupport
import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Splitting loops across the cores. Work items are chunked so that each thread gets a
/// contiguous range (good for caches) and tiny loops stay on the calling thread.
public enum Parallel {
    public static let threads: Int = {
        if let n = RuntimeSettings.current.threads { return n }
        return max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
    }()

    /// Calls body(range) over disjoint ranges covering 0..<count. `minPerThread` is the
    /// smallest count worth a thread of its own (in items).
    ///
    /// `lowLatency` is for the many short loops of decoding (matrix-vector products of a few
    /// microseconds): their parts run on a pool of workers that spin between jobs for a short
    /// while (`saro_pool_run`), so a loop does not pay a thread wake-up. When the pool is
    /// taken by another thread's job (or `SARO_SPIN_US` is 0), the loop runs as any other.
    @inlinable
    public static func forRanges(_ count: Int, minPerThread: Int = 1, lowLatency: Bool = false, _ body: (Range<Int>) -> Void) {
        if count <= 0 { return }
        if insideLane { body(0..<count); return }
        let parts = min(threads, max(1, count / max(1, minPerThread)))
        if parts <= 1 { body(0..<count); return }
        let chunk = (count + parts - 1) / parts
        if lowLatency && runOnPool(count: count, parts: parts, chunk: chunk, body) { return }
        DispatchQueue.concurrentPerform(iterations: parts) { p in
            let lo = p * chunk, hi = min(count, lo + chunk)
            if lo < hi { body(lo..<hi) }
        }
    }

    /// Runs the parts on the spinning pool; false when it did not take them.
    @usableFromInline
    static func runOnPool(count: Int, parts: Int, chunk: Int, _ body: (Range<Int>) -> Void) -> Bool {
        guard poolSpinNanoseconds > 0 else { return false }
        return withoutActuallyEscaping(body) { body -> Bool in
            var job = PoolJob(chunk: chunk, count: count, body: body)
            return withUnsafeMutablePointer(to: &job) { pointer in
                saro_pool_run(Int32(threads), poolSpinNanoseconds, Int32(parts), { context, part in
                    let job = context!.assumingMemoryBound(to: PoolJob.self).pointee
                    let lo = Int(part) * job.chunk, hi = min(job.count, lo + job.chunk)
                    if lo < hi { job.body(lo..<hi) }
                }, pointer) != 0
            }
        }
    }

    /// How long pool workers spin after a job before they sleep (`RuntimeSettings`; default
    /// 200 µs): longer than the gaps between the products of one decoded token, short enough
    /// that an idle pool gives its core back.
    static let poolSpinNanoseconds = RuntimeSettings.current.spinMicroseconds * 1000

    struct PoolJob {
        let chunk: Int
        let count: Int
        let body: (Range<Int>) -> Void
    }

    /// Set on the threads of `lanes`: each lane already has a core, so the kernels it calls
    /// run their loops on it rather than splitting them again. Task-local, which outside a
    /// Swift task is per thread.
    @TaskLocal public static var insideLane = false

    /// How many lanes `items` independent pieces of work should split into: one per core (at
    /// most one per item), or 1 inside a lane or without a BLAS that supports lanes, where
    /// one multi-threaded pass is faster than parts run one after another.
    public static func laneCount(items: Int, cores: Int = threads) -> Int {
        guard !insideLane, BLAS.shared.supportsLanes else { return 1 }
        return max(1, min(cores, items))
    }

    /// 0..<count in `parts` contiguous ranges of nearly equal size (a lane's share of a batch).
    public static func contiguousParts(_ count: Int, _ parts: Int) -> [Range<Int>] {
        (0..<parts).map { i in (i * count / parts)..<((i + 1) * count / parts) }
    }

    /// Runs body(0) ... body(count - 1) concurrently, one lane per core, each lane single-
    /// threaded throughout: saro's kernels run their loops inline and BLAS uses one thread.
    /// Independent work (data-parallel training's shards) then needs no synchronisation per
    /// op, where splitting every op across the cores pays a fork and join for each of
    /// thousands of small products and elementwise passes. Without a BLAS that can run
    /// single-threaded calls side by side (`BLAS.supportsLanes`), the lanes run one by one.
    public static func lanes(_ count: Int, _ body: (Int) -> Void) {
        let blas = BLAS.shared
        if count <= 1 || !blas.supportsLanes || insideLane {
            for i in 0..<count { body(i) }
            return
        }
        DispatchQueue.concurrentPerform(iterations: count) { i in
            blas.withOneThread { $insideLane.withValue(true) { body(i) } }
        }
    }

    /// Calls body(i) for every i in 0..<count, spread over the cores.
    @inlinable
    public static func forEach(_ count: Int, minPerThread: Int = 1, lowLatency: Bool = false, _ body: (Int) -> Void) {
        forRanges(count, minPerThread: minPerThread, lowLatency: lowLatency) { r in for i in r { body(i) } }
    }
}
