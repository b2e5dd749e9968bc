import Support
import Foundation
import Tensor

/// Throughput of the generation engine: batch-1 and batched decoding and long-prompt prefill,
/// with the memory-bandwidth bound of batch-1 decoding beside it.
public enum GenerationBenchmark {
    public struct Result: Codable, Sendable {
        public var decode_batch1_tokens_per_second: Double
        public var decode_batched_tokens_per_second: Double
        /// The same batch split into `lanes` parts decoded at once, one per core (what
        /// `Generator` does when it does not stream); equal to the above with one lane.
        public var decode_batched_lanes_tokens_per_second: Double
        public var lanes: Int
        public var batch: Int
        public var new_tokens: Int
        public var prefill_tokens_per_second: Double
        public var prefill_tokens: Int
        /// Bytes of weights read to decode one token (quantized where the model has them).
        public var weight_bytes_per_token: Int
        /// Measured read bandwidth of this machine (GB/s) and the decode bound it implies.
        public var memory_bandwidth_gb_per_second: Double
        public var decode_bound_tokens_per_second: Double
    }

    /// Tokens per second of decoding `newTokens` tokens at batch `batch` after `promptLength`
    /// random prompt tokens (their prefill not timed), as `lanes` parts at once (each its own
    /// cache on one core, as `Generator` runs a batch without streaming) or as one
    /// multi-threaded pass.
    public static func decodeRate(model: LlamaModel, batch: Int, lanes: Int = 1, promptLength: Int, newTokens: Int, seed: UInt64 = 1) -> Double {
        var rng = SplitMix64(seed: seed)
        let vocab = model.config.vocabSize
        func randomIds(_ n: Int) -> [Int32] { (0..<n).map { _ in Int32(rng.next() % UInt64(vocab)) } }
        let parts = Parallel.contiguousParts(batch, lanes)
        let prompts = parts.map { randomIds($0.count * promptLength) }
        let starts = parts.map { randomIds($0.count) }
        let caches = parts.map { KVCache(config: model.config, batch: $0.count, capacity: promptLength + newTokens + 1) }
        for (i, part) in parts.enumerated() {
            _ = GradMode.withNoGrad { model.forward(ids: prompts[i], batch: part.count, time: promptLength, cache: caches[i], lastOnly: true) }
        }
        let t0 = MonotonicClock.seconds()
        Parallel.lanes(lanes) { lane in
            let rows = parts[lane].count
            var next = starts[lane]
            for _ in 0..<newTokens {
                let logits = GradMode.withNoGrad { model.forward(ids: next, batch: rows, time: 1, cache: caches[lane], lastOnly: true) }.value
                next = (0..<rows).map { row in
                    let p = logits.data + row * vocab
                    var best = 0
                    for i in 1..<vocab where p[i] > p[best] { best = i }
                    return Int32(best)
                }
            }
        }
        return Double(batch * newTokens) / (MonotonicClock.seconds() - t0)
    }

    /// Positions per second of one forward pass over `batch` x `length` random tokens (a
    /// prompt's prefill), into a fresh cache.
    public static func prefillRate(model: LlamaModel, batch: Int = 1, length: Int, seed: UInt64 = 1) -> Double {
        var rng = SplitMix64(seed: seed)
        let ids = (0..<(batch * length)).map { _ in Int32(rng.next() % UInt64(model.config.vocabSize)) }
        let cache = KVCache(config: model.config, batch: batch, capacity: length)
        let t0 = MonotonicClock.seconds()
        _ = GradMode.withNoGrad { model.forward(ids: ids, batch: batch, time: length, cache: cache, lastOnly: true) }
        return Double(ids.count) / (MonotonicClock.seconds() - t0)
    }

    /// Times decoding `newTokens` tokens after `promptLength` prompt tokens (the prompt's
    /// prefill excluded), at batch 1 and at `batch`, and prefill of `prefillLength` tokens.
    public static func run(model: LlamaModel, promptLength: Int = 16, newTokens: Int = 128, batch: Int = 16, prefillLength: Int = 512) -> Result {
        var rng = SplitMix64(seed: 1)
        func decode(batch b: Int, lanes: Int = 1) -> Double {
            decodeRate(model: model, batch: b, lanes: lanes, promptLength: promptLength, newTokens: newTokens, seed: rng.next())
        }
        let single = decode(batch: 1)
        let batched = decode(batch: batch)
        let lanes = Parallel.laneCount(items: batch)
        let batchedLanes = lanes > 1 ? decode(batch: batch, lanes: lanes) : batched
        let prefill = prefillRate(model: model, length: prefillLength, seed: rng.next())

        let bytes = weightBytesPerToken(model)
        let bandwidth = measureReadBandwidth()
        return Result(decode_batch1_tokens_per_second: single, decode_batched_tokens_per_second: batched,
                      decode_batched_lanes_tokens_per_second: batchedLanes, lanes: lanes, batch: batch, new_tokens: newTokens, prefill_tokens_per_second: prefill, prefill_tokens: prefillLength, weight_bytes_per_token: bytes,
                      memory_bandwidth_gb_per_second: bandwidth / 1e9, decode_bound_tokens_per_second: bandwidth / Double(bytes))
    }

    /// Weight bytes one decoding step reads: quantized matrices at their size (in the integer
    /// kernel's packed form where it runs), other parameters as float32; the embedding table
    /// contributes one row.
    public static func weightBytesPerToken(_ model: LlamaModel) -> Int {
        var total = 0
        for (name, p) in model.parameters {
            let asHead = name == LlamaModel.embeddings && model.config.tieWordEmbeddings
            if name == LlamaModel.embeddings && !asHead { total += model.config.hiddenSize * 4; continue }
            if let q = model.quantized[name] { total += q.packed?.count ?? q.bytes.count } else { total += p.value.count * 4 }
        }
        return total
    }

    /// Best-of-5 read bandwidth over a 256 MB buffer with both cores summing it.
    public static func measureReadBandwidth() -> Double {
        let count = 64 << 20
        let buffer = Tensor(repeating: 1, shape: [count])
        var best = Double.infinity
        for _ in 0..<5 {
            let t0 = MonotonicClock.seconds()
            let partial = Tensor(zeros: [Parallel.threads])
            Parallel.forRanges(count, minPerThread: 1 << 20) { r in
                var acc = Vec8()
                var i = r.lowerBound
                while i + 8 <= r.upperBound { acc += SIMDMath.load(buffer.data + i); i += 8 }
                partial.data[r.lowerBound * Parallel.threads / count] += acc.sum()
            }
            best = min(best, MonotonicClock.seconds() - t0)
            precondition(partial.scalars.reduce(0, +) > 0)
        }
        return Double(count * 4) / best
    }
}
