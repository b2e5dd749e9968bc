import Foundation
import Testing
@testable import Tensor

/// The pool of large freed buffers: reuse across nearby sizes, its byte bound, and eviction of
/// the buffers given back longest ago.
@Suite struct BufferPoolTests {
    static let mb = 1 << 18  // floats in 1 MiB

    static func allocate(_ count: Int) -> UnsafeMutablePointer<Float> {
        var raw: UnsafeMutableRawPointer? = nil
        precondition(posix_memalign(&raw, 64, BufferPool.capacity(count) * 4) == 0)
        return raw!.bindMemory(to: Float.self, capacity: count)
    }

    @Test func sizeClassesAreEightPerDoublingAndCoverTheRequest() {
        for count in [Self.mb, Self.mb + 1, 3 * Self.mb + 12345, 100_000_000, (1 << 28) - 1] {
            let c = BufferPool.capacity(count)
            #expect(c >= count && Double(c) <= Double(count) * 1.125 + 1, "\(count) -> \(c)")
        }
        #expect(BufferPool.capacity(1000) == 1000)  // below the pooled sizes: as asked
        // Nearby requests share a class (sequences a few tokens apart reuse each other's buffers).
        #expect(BufferPool.capacity(4 * 640 * 49152) == BufferPool.capacity(4 * 600 * 49152))
    }

    @Test func aBufferServesAnyRequestOfItsClassAndTheBoundIsKept() {
        let pool = BufferPool(capacityBytes: 10 << 20)
        let a = Self.allocate(2 * Self.mb + 100)
        #expect(pool.give(a, 2 * Self.mb + 100))
        #expect(pool.take(2 * Self.mb + 5000) == a)
        #expect(pool.take(2 * Self.mb + 5000) == nil)
        #expect(pool.bytes == 0)
        // Larger than the whole pool: not kept (the caller frees it).
        let big = Self.allocate(3 * Self.mb)
        #expect(!BufferPool(capacityBytes: 2 << 20).give(big, 3 * Self.mb))
        free(big); free(a)
    }

    @Test func aFullPoolFreesTheOldestBuffersFirst() {
        let pool = BufferPool(capacityBytes: 6 << 20)
        let first = Self.allocate(2 * Self.mb), second = Self.allocate(3 * Self.mb), third = Self.allocate(2 * Self.mb + 1)
        #expect(pool.give(first, 2 * Self.mb) && pool.give(second, 3 * Self.mb))
        #expect(pool.bytes == 5 << 20)
        // 2 MiB more does not fit: the oldest (first) goes, the newer 3 MiB one stays.
        #expect(pool.give(third, 2 * Self.mb + 1))
        #expect(pool.bytes <= 6 << 20)
        #expect(pool.take(3 * Self.mb) == second)
        #expect(pool.take(2 * Self.mb + 1) == third)
        #expect(pool.take(2 * Self.mb) == nil)
        free(second); free(third)
    }
}
