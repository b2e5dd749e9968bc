import Tensor

/// Keys and values of past positions for every layer, so each decoding step computes only the
/// new tokens. Storage is [batch, capacity, kvHeads, headDim] per layer; attention reads the
/// filled part in place. Sequences of different lengths are left-padded: `padding[b]` leading
/// positions of row b are masked out and its positions count from the first real token.
public final class KVCache {
    public let batch: Int
    public let capacity: Int
    public let kvHeads: Int
    public let headDim: Int
    var keys: [Tensor]
    var values: [Tensor]
    /// Positions filled so far (the same for every row).
    public private(set) var length = 0
    public let padding: [Int]

    public init(config: LlamaConfig, batch: Int, capacity: Int, padding: [Int]? = nil) {
        self.batch = batch
        self.capacity = capacity
        self.kvHeads = config.numKeyValueHeads
        self.headDim = config.headDim
        self.padding = padding ?? [Int](repeating: 0, count: batch)
        precondition(self.padding.count == batch, "padding for \(self.padding.count) rows, batch \(batch)")
        keys = (0..<config.numHiddenLayers).map { _ in Tensor(zeros: [batch, capacity, config.numKeyValueHeads, config.headDim]) }
        values = keys.map { Tensor(zeros: $0.shape) }
    }

    /// A cache of `rows` of `running` (in that order, a row possibly repeated) followed by every
    /// row of `joining` (new sequences, just prefilled), aligned at their ends: the cache with
    /// fewer filled positions gets more left padding. Leading positions that are padding in every
    /// row are dropped, so the cache holds no more positions than its longest sequence. Each row
    /// keeps its own positions (a token's position is its column less its padding, and both move
    /// together). Room for `extra` more positions. This is how generation drops finished rows,
    /// refills a batch as sequences finish and copies a shared prompt's prefill. Padding and
    /// positions past `length` are left unwritten: attention reads only a row's own positions,
    /// and appending writes before reading.
    public init(rows: [Int], of running: KVCache, joining: KVCache?, extra: Int) {
        precondition(rows.allSatisfy { running.padding.indices.contains($0) }, "rows \(rows) outside a batch of \(running.batch)")
        precondition(joining.map { $0.kvHeads == running.kvHeads && $0.headDim == running.headDim && $0.keys.count == running.keys.count } ?? true,
                     "caches of different models")
        let end = max(running.length, joining?.length ?? 0)
        // Each row: its source cache, row there, and the shift that aligns the two caches' ends.
        var sources: [(cache: KVCache, row: Int, shift: Int)] = rows.map { (running, $0, end - running.length) }
        if let j = joining { sources += (0..<j.batch).map { (j, $0, end - j.length) } }
        let trim = sources.map { $0.cache.padding[$0.row] + $0.shift }.min() ?? 0
        batch = sources.count
        kvHeads = running.kvHeads
        headDim = running.headDim
        length = end - trim
        capacity = length + extra
        padding = sources.map { $0.cache.padding[$0.row] + $0.shift - trim }
        let shape = [sources.count, capacity, kvHeads, headDim]
        func gather(_ layer: Int, _ tensors: (KVCache) -> [Tensor]) -> Tensor {
            let out = Tensor(uninitialized: shape)
            for (i, s) in sources.enumerated() {
                let own = s.cache.padding[s.row]..<s.cache.length
                let to = (own.lowerBound + s.shift - trim)..<(own.upperBound + s.shift - trim)
                out.slice(0, i..<(i + 1)).slice(1, to).copyElements(from: tensors(s.cache)[layer].slice(0, s.row..<(s.row + 1)).slice(1, own))
            }
            return out
        }
        keys = running.keys.indices.map { gather($0, \.keys) }
        values = running.values.indices.map { gather($0, \.values) }
    }

    /// Rotary positions of `time` new tokens per row.
    func positions(time: Int) -> [Int32] {
        (0..<batch).flatMap { b in (0..<time).map { t in Int32(max(0, length + t - padding[b])) } }
    }

    /// Stores new keys and values [batch, time, kvHeads, headDim] of a layer at the current end,
    /// and returns views of everything stored so far, [batch, length + time, kvHeads, headDim].
    func append(layer: Int, keys k: Tensor, values v: Tensor) -> (Tensor, Tensor) {
        let time = k.shape[1]
        precondition(length + time <= capacity, "KV cache full: \(length) + \(time) positions, capacity \(capacity)")
        let kc = keys[layer], vc = values[layer]
        kc.slice(1, length..<(length + time)).copyElements(from: k)
        vc.slice(1, length..<(length + time)).copyElements(from: v)
        return (kc.slice(1, 0..<(length + time)), vc.slice(1, 0..<(length + time)))
    }

    /// Marks `time` more positions as filled (after every layer has appended them).
    func advance(_ time: Int) { length += time }
}
