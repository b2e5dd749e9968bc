import CSupport
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A Float32 buffer shared by tensors that view it. Aligned to 64 bytes for SIMD and BLAS.
public final class TensorStorage: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int

    /// Keep freed tensor buffers in the heap instead of returning each to the kernel: every
    /// op allocates its output, and fresh pages from mmap cost a page fault (and zeroing) each.
    static let configureAllocator: Void = saro_configure_allocator()

    public init(count: Int, zeroed: Bool = true) {
        precondition(count >= 0, "negative storage size")
        TensorStorage.configureAllocator
        self.count = count
        if let reused = BufferPool.shared.take(count) {
            pointer = reused
        } else {
            var raw: UnsafeMutableRawPointer? = nil
            // A pooled size is allocated at its size class, so the buffer can serve any
            // request of that class once it is given back.
            let bytes = max(1, BufferPool.capacity(count)) * MemoryLayout<Float>.stride
            guard posix_memalign(&raw, 64, bytes) == 0, let raw else {
                fatalError("out of memory allocating \(bytes) bytes for a tensor")
            }
            pointer = raw.bindMemory(to: Float.self, capacity: max(1, count))
        }
        if zeroed { pointer.initialize(repeating: 0, count: count) }
    }

    deinit {
        if !BufferPool.shared.give(pointer, count) { free(pointer) }
    }
}

/// Large tensor buffers, kept after use and handed out again. Training and decoding allocate
/// the same big activations every step; reusing them saves the page faults and zeroing of
/// fresh memory (glibc maps blocks over 32 MiB anew each time). Sizes are rounded up to size
/// classes (eight per doubling: at most 12.5% unused), so steps whose sequences differ in
/// length still reuse each other's buffers; when the pool is full, the buffers given back
/// longest ago are freed to make room, so what it holds follows what the work needs now
/// rather than sizes from a stage that is over. Bounded in bytes.
final class BufferPool: @unchecked Sendable {
    static let shared = BufferPool(capacityBytes: RuntimeSettings.current.bufferPoolBytes)
    static let minimumCount = 1 << 18            // 1 MiB: smaller blocks come from malloc's bins

    /// The size class of a request of `count` floats (itself below the pooled sizes).
    static func capacity(_ count: Int) -> Int {
        guard count >= minimumCount else { return count }
        let step = 1 << (Int.bitWidth - 1 - count.leadingZeroBitCount - 3)
        return (count + step - 1) / step * step
    }

    let capacityBytes: Int
    /// Free buffers by size class, and every free buffer in the order it was given back.
    private var kept: [Int: [UnsafeMutablePointer<Float>]] = [:]
    private var order: [(size: Int, pointer: UnsafeMutablePointer<Float>)] = []
    private(set) var bytes = 0
    private let lock = NSLock()

    init(capacityBytes: Int) { self.capacityBytes = capacityBytes }

    /// Frees every kept buffer.
    func drain() {
        lock.lock(); defer { lock.unlock() }
        for (_, p) in order { free(p) }
        kept = [:]; order = []; bytes = 0
    }

    func take(_ count: Int) -> UnsafeMutablePointer<Float>? {
        guard count >= Self.minimumCount else { return nil }
        let size = Self.capacity(count)
        lock.lock(); defer { lock.unlock() }
        guard let p = kept[size]?.popLast() else { return nil }
        order.remove(at: order.firstIndex { $0.pointer == p }!)
        bytes -= size * 4
        return p
    }

    /// Keeps `p` (a buffer for `count` floats, allocated at its size class) for reuse, freeing
    /// the oldest kept buffers when it would not fit; false when it does not fit at all.
    func give(_ p: UnsafeMutablePointer<Float>, _ count: Int) -> Bool {
        guard count >= Self.minimumCount else { return false }
        let size = Self.capacity(count)
        guard size * 4 <= capacityBytes else { return false }
        lock.lock(); defer { lock.unlock() }
        while bytes + size * 4 > capacityBytes, !order.isEmpty {
            let oldest = order.removeFirst()
            kept[oldest.size]!.remove(at: kept[oldest.size]!.firstIndex(of: oldest.pointer)!)
            bytes -= oldest.size * 4
            free(oldest.pointer)
        }
        kept[size, default: []].append(p)
        order.append((size, p))
        bytes += size * 4
        return true
    }
}

/// Memory a finished piece of work leaves behind.
public enum FreedMemory {
    /// Returns freed memory to the system: the buffer pool's buffers and the heap's free pages.
    /// Between pipeline stages, so that one stage's peak is not carried into the next (the
    /// pool and the allocator otherwise keep what a training stage used for the sampling after it).
    public static func release() {
        BufferPool.shared.drain()
        saro_release_free_memory()
    }
}

/// An n-dimensional Float32 array: a storage, a shape, strides (in elements) and an offset.
///
/// Tensors are views: `reshaped`, `transposed`, `slice` and `expanded` share the storage with
/// the tensor they came from (when the layout allows it), exactly like PyTorch views, so
/// writing through one is seen by the other. `contiguous()` and `copy()` make new storage.
public struct Tensor: @unchecked Sendable, CustomStringConvertible {
    public let storage: TensorStorage
    public let shape: [Int]
    public let strides: [Int]
    public let offset: Int

    // MARK: construction

    public init(zeros shape: [Int]) {
        self.init(storage: TensorStorage(count: Tensor.count(shape)), shape: shape)
    }

    /// New storage whose contents are not initialised: the caller writes every element.
    public init(uninitialized shape: [Int]) {
        self.init(storage: TensorStorage(count: Tensor.count(shape), zeroed: false), shape: shape)
    }

    public init(_ values: [Float], shape: [Int]) {
        precondition(values.count == Tensor.count(shape),
                     "\(values.count) values do not fill shape \(shape)")
        self.init(uninitialized: shape)
        values.withUnsafeBufferPointer { storage.pointer.update(from: $0.baseAddress!, count: values.count) }
    }

    public init(repeating value: Float, shape: [Int]) {
        self.init(uninitialized: shape)
        storage.pointer.update(repeating: value, count: count)
    }

    /// A contiguous tensor over existing storage.
    public init(storage: TensorStorage, shape: [Int], offset: Int = 0) {
        self.init(storage: storage, shape: shape, strides: Tensor.contiguousStrides(shape), offset: offset)
    }

    public init(storage: TensorStorage, shape: [Int], strides: [Int], offset: Int) {
        precondition(shape.count == strides.count, "shape \(shape) and strides \(strides) differ in rank")
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        self.storage = storage
        self.shape = shape
        self.strides = strides
        self.offset = offset
    }

    /// Values drawn from a normal distribution with the given standard deviation.
    public static func randn(_ shape: [Int], std: Float = 1, rng: inout SplitMix64) -> Tensor {
        let t = Tensor(uninitialized: shape)
        let p = t.storage.pointer
        for i in 0..<t.count { p[i] = rng.nextGaussian() * std }
        return t
    }

    /// Values drawn uniformly from [low, high).
    public static func uniform(_ shape: [Int], low: Float = -1, high: Float = 1, rng: inout SplitMix64) -> Tensor {
        let t = Tensor(uninitialized: shape)
        let p = t.storage.pointer
        for i in 0..<t.count { p[i] = low + (high - low) * rng.nextFloat() }
        return t
    }

    // MARK: shape

    public static func count(_ shape: [Int]) -> Int { shape.reduce(1, *) }

    /// The element count of a shape read from a file, or nil when a partial product
    /// overflows or passes `limit`: a hostile header can name any shape, and nothing may
    /// multiply it unchecked.
    public static func count(_ shape: [Int], atMost limit: Int) -> Int? {
        var n = 1
        for d in shape {
            let (p, overflow) = n.multipliedReportingOverflow(by: d)
            guard !overflow, p <= limit else { return nil }
            n = p
        }
        return n
    }

    public static func contiguousStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var s = 1
        for d in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[d] = s
            s *= shape[d]
        }
        return strides
    }

    public var rank: Int { shape.count }
    public var count: Int { Tensor.count(shape) }

    public var isContiguous: Bool {
        var expected = 1
        for d in stride(from: rank - 1, through: 0, by: -1) where shape[d] != 1 {
            if strides[d] != expected { return false }
            expected *= shape[d]
        }
        return true
    }

    /// The first element. Only meaningful to index linearly when `isContiguous`.
    public var data: UnsafeMutablePointer<Float> { storage.pointer + offset }

    func normalized(_ dim: Int) -> Int {
        let d = dim < 0 ? dim + rank : dim
        precondition(d >= 0 && d < rank, "dimension \(dim) out of range for shape \(shape)")
        return d
    }

    // MARK: views

    /// Same elements, new shape; one dimension may be -1. A view when the tensor is
    /// contiguous, otherwise a copy.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var newShape = newShape
        if let i = newShape.firstIndex(of: -1) {
            let rest = newShape.enumerated().filter { $0.offset != i }.map(\.element).reduce(1, *)
            precondition(rest > 0 && count % rest == 0, "cannot infer -1 reshaping \(shape) to \(newShape)")
            newShape[i] = count / rest
        }
        precondition(Tensor.count(newShape) == count, "cannot reshape \(shape) (\(count) elements) to \(newShape)")
        let base = isContiguous ? self : contiguous()
        return Tensor(storage: base.storage, shape: newShape, offset: base.offset)
    }

    /// Swaps two dimensions (a view).
    public func transposed(_ d0: Int = -2, _ d1: Int = -1) -> Tensor {
        let a = normalized(d0), b = normalized(d1)
        var s = shape, st = strides
        s.swapAt(a, b)
        st.swapAt(a, b)
        return Tensor(storage: storage, shape: s, strides: st, offset: offset)
    }

    /// Reorders dimensions (a view): result dimension i is dimension order[i] of self.
    public func permuted(_ order: [Int]) -> Tensor {
        precondition(order.sorted() == Array(0..<rank), "\(order) is not a permutation of 0..<\(rank)")
        return Tensor(storage: storage, shape: order.map { shape[$0] }, strides: order.map { strides[$0] }, offset: offset)
    }

    /// The elements at `range` along `dim` (a view).
    public func slice(_ dim: Int, _ range: Range<Int>) -> Tensor {
        let d = normalized(dim)
        precondition(range.lowerBound >= 0 && range.upperBound <= shape[d],
                     "slice \(range) out of bounds for dimension \(d) of shape \(shape)")
        var s = shape
        s[d] = range.count
        return Tensor(storage: storage, shape: s, strides: strides, offset: offset + range.lowerBound * strides[d])
    }

    /// Index `i` along dimension 0, dropping that dimension (a view).
    public subscript(_ i: Int) -> Tensor {
        precondition(rank > 0 && i >= 0 && i < shape[0], "index \(i) out of range for shape \(shape)")
        return Tensor(storage: storage, shape: Array(shape.dropFirst()), strides: Array(strides.dropFirst()),
                      offset: offset + i * strides[0])
    }

    /// Broadcasts size-1 dimensions to `newShape` with stride 0 (a view, read-only in spirit).
    public func expanded(_ newShape: [Int]) -> Tensor {
        precondition(newShape.count == rank, "expand needs the same rank: \(shape) to \(newShape)")
        var st = strides
        for d in 0..<rank where shape[d] != newShape[d] {
            precondition(shape[d] == 1, "cannot expand dimension \(d) of \(shape) to \(newShape)")
            st[d] = 0
        }
        return Tensor(storage: storage, shape: newShape, strides: st, offset: offset)
    }

    // MARK: copies and element access

    /// This tensor if it is contiguous, else a contiguous copy.
    public func contiguous() -> Tensor { isContiguous ? self : copy() }

    /// A contiguous copy in new storage.
    public func copy() -> Tensor {
        let out = Tensor(uninitialized: shape)
        out.copyElements(from: self)
        return out
    }

    /// Writes `source`'s elements (same shape, any strides) into self.
    public func copyElements(from source: Tensor) {
        precondition(source.shape == shape, "copy from \(source.shape) into \(shape)")
        if isContiguous && source.isContiguous {
            data.update(from: source.data, count: count)
            return
        }
        let dst = data, src = source.data
        forEachOffset(shape: shape, a: strides, b: source.strides) { d, s in dst[d] = src[s] }
    }

    /// The element at a full index.
    public subscript(index index: [Int]) -> Float {
        get { storage.pointer[elementOffset(index)] }
        nonmutating set { storage.pointer[elementOffset(index)] = newValue }
    }

    func elementOffset(_ index: [Int]) -> Int {
        precondition(index.count == rank, "index \(index) has the wrong rank for shape \(shape)")
        var o = offset
        for d in 0..<rank {
            precondition(index[d] >= 0 && index[d] < shape[d], "index \(index) out of bounds for shape \(shape)")
            o += index[d] * strides[d]
        }
        return o
    }

    /// The elements in row-major order.
    public var scalars: [Float] {
        let c = contiguous()
        return Array(UnsafeBufferPointer(start: c.data, count: c.count))
    }

    /// Adds `v` [C] to every row of this contiguous [..., C] tensor, in place.
    public func addRowVector(_ v: Tensor) {
        let c = v.count
        precondition(isContiguous && shape.last == c, "addRowVector: \(v.shape) onto \(shape)")
        let vc = v.contiguous(), base = data
        Parallel.forRanges(count / c, minPerThread: max(1, 16384 / max(c, 1))) { rows in
            for r in rows { Elementwise.axpySerial(1, vc.data, base + r * c, n: c) }
        }
    }

    public func fill(_ value: Float) {
        if isContiguous { data.update(repeating: value, count: count); return }
        let p = data
        forEachOffset(shape: shape, a: strides, b: strides) { o, _ in p[o] = value }
    }

    public var description: String {
        let values = scalars
        let shown = values.prefix(8).map { String($0) }.joined(separator: ", ")
        return "Tensor(shape: \(shape), [\(shown)\(values.count > 8 ? ", ..." : "")])"
    }
}

/// Visits every index of `shape` in row-major order, passing the element offsets under two
/// stride sets.
@inlinable
func forEachOffset(shape: [Int], a: [Int], b: [Int], _ body: (Int, Int) -> Void) {
    let rank = shape.count
    if shape.contains(0) { return }
    if rank == 0 { body(0, 0); return }
    var index = [Int](repeating: 0, count: rank)
    var oa = 0, ob = 0
    let inner = shape[rank - 1], sa = a[rank - 1], sb = b[rank - 1]
    while true {
        for i in 0..<inner { body(oa + i * sa, ob + i * sb) }
        var d = rank - 2
        while d >= 0 {
            index[d] += 1
            oa += a[d]; ob += b[d]
            if index[d] < shape[d] { break }
            oa -= a[d] * shape[d]; ob -= b[d] * shape[d]
            index[d] = 0
            d -= 1
        }
        if d < 0 { return }
    }
}
