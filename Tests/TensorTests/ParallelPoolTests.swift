import Foundation
import Testing
@testable import Tensor

/// The spinning pool behind decoding's loops: every index runs exactly once, whether the job
/// goes to the pool, nests inside one of its parts, or finds the pool taken by another thread
/// (then it runs as `forRanges` does).
@Suite struct ParallelPoolTests {
    /// Counts how often each index of 0..<count ran.
    final class Hits: @unchecked Sendable {
        let counts: UnsafeMutablePointer<Int32>
        let count: Int
        init(_ count: Int) { self.count = count; counts = .allocate(capacity: count); counts.initialize(repeating: 0, count: count) }
        deinit { counts.deallocate() }
        func hit(_ r: Range<Int>) { for i in r { counts[i] += 1 } }
        var allOnce: Bool { (0..<count).allSatisfy { counts[$0] == 1 } }
    }

    @Test func everyIndexOnceAcrossManyJobs() {
        for count in [1, 2, 63, 64, 65, 128, 1000, 49_152] {
            for _ in 0..<50 {
                let hits = Hits(count)
                Parallel.forRanges(count, minPerThread: 64, lowLatency: true) { hits.hit($0) }
                #expect(hits.allOnce, "count \(count)")
            }
        }
    }

    @Test func nestedJobsRunInsideTheirPart() {
        let outer = 256, inner = 300
        let hits = Hits(outer * inner)
        Parallel.forRanges(outer, minPerThread: 64, lowLatency: true) { rows in
            for r in rows { Parallel.forRanges(inner, minPerThread: 64, lowLatency: true) { cols in hits.hit((r * inner + cols.lowerBound)..<(r * inner + cols.upperBound)) } }
        }
        #expect(hits.allOnce)
    }

    @Test func concurrentCallersEachGetTheirWholeJob() {
        let callers = 4, count = 4096
        let failures = Hits(callers)   // each caller counts its own wrong jobs in its own slot
        DispatchQueue.concurrentPerform(iterations: callers) { c in
            for _ in 0..<200 {
                let hits = Hits(count)
                Parallel.forRanges(count, minPerThread: 64, lowLatency: true) { hits.hit($0) }
                if !hits.allOnce { failures.counts[c] += 1 }
            }
        }
        #expect((0..<callers).allSatisfy { failures.counts[$0] == 0 }, "a caller saw an index run twice or not at all")
    }
}
