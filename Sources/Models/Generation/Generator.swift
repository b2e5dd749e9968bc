import Tensor
import Tokenizers

/// Why a sequence stopped, in OpenAI's words.
public enum FinishReason: String, Sendable, Codable { case stop, length }

public struct GenerationResult: Sendable {
    public var tokens: [Int]
    public var text: String
    public var finishReason: FinishReason
    public var promptTokens: Int
    public init(tokens: [Int], text: String, finishReason: FinishReason, promptTokens: Int) {
        self.tokens = tokens; self.text = text; self.finishReason = finishReason; self.promptTokens = promptTokens
    }
}

/// One sequence to generate: its prompt and its own options.
public struct GenerationRequest: Sendable {
    public var prompt: [Int]
    public var options: GenerationOptions
    public init(prompt: [Int], options: GenerationOptions) { self.prompt = prompt; self.options = options }
}

public struct GenerationOptions: Sendable {
    public var maxNewTokens = 256
    public var sampling = SamplingParameters.greedy
    public var stopTokens: Set<Int> = []
    public var stopStrings: [String] = []
    public init(maxNewTokens: Int = 256, sampling: SamplingParameters = .greedy, stopTokens: Set<Int> = [], stopStrings: [String] = []) {
        self.maxNewTokens = maxNewTokens; self.sampling = sampling; self.stopTokens = stopTokens; self.stopStrings = stopStrings
    }
}

/// A request the model cannot serve, found before any work starts.
public struct GenerationTooLong: Error, CustomStringConvertible {
    public let promptTokens: Int, maxNewTokens: Int, context: Int
    public var description: String {
        "the prompt's \(promptTokens) tokens plus \(maxNewTokens) new tokens exceed the model's context of \(context) "
            + "(at most \(max(0, context - promptTokens)) new tokens fit after this prompt)"
    }
}

/// Batched generation with a KV cache: prompts of different lengths are left-padded into one
/// batch, prefilled together, then decoded one token per step for every unfinished row.
public final class Generator {
    public let model: LlamaModel
    public let tokenizer: Tokenizer

    /// How many times finished rows were dropped from the batch (for tests and benchmarks).
    public private(set) var compactions = 0
    /// Lanes the last `generate` ran on (1: one pass over all the cores).
    public private(set) var lastLanes = 1

    /// Throws when a prompt of `promptTokens` and `maxNewTokens` new tokens do not fit the
    /// model's context: callers check each request with it before generating any.
    public func checkFits(promptTokens: Int, maxNewTokens: Int) throws {
        let context = model.config.maxPositionEmbeddings
        guard promptTokens >= 1, maxNewTokens >= 0, promptTokens + maxNewTokens <= context else {
            throw GenerationTooLong(promptTokens: promptTokens, maxNewTokens: maxNewTokens, context: context)
        }
    }

    public init(model: LlamaModel, tokenizer: Tokenizer) {
        self.model = model
        self.tokenizer = tokenizer
    }

    /// Generates for each prompt (token ids) with shared options. `onToken(row, token, textDelta)`
    /// streams each new token with the text it completes (held back while a UTF-8 sequence is
    /// unfinished or the text could still become a stop string).
    public func generate(prompts: [[Int]], options: GenerationOptions,
                         onToken: ((Int, Int, String) -> Void)? = nil) -> [GenerationResult] {
        generate(requests: prompts.map { GenerationRequest(prompt: $0, options: options) }, onToken: onToken)
    }

    /// Runs the prompts (left-padded to the longest) into a new cache and returns it with each
    /// row's next-token logits [rows, 1, vocab]. Rows with the same prompt (several samples of
    /// one query) share one prefill: each distinct prompt runs once, then its cache rows and
    /// logits are copied.
    func prefill(_ prompts: [[Int]], capacity: Int, padId: Int32) -> (KVCache, Tensor) {
        var distinct: [[Int]] = [], slot: [[Int]: Int] = [:]
        let source = prompts.map { p -> Int in
            if let s = slot[p] { return s }
            slot[p] = distinct.count
            distinct.append(p)
            return distinct.count - 1
        }
        let longest = distinct.map(\.count).max()!, vocab = model.config.vocabSize
        var ids: [Int32] = []
        for p in distinct { ids += [Int32](repeating: padId, count: longest - p.count) + p.map { Int32($0) } }
        let cache = KVCache(config: model.config, batch: distinct.count, capacity: capacity, padding: distinct.map { longest - $0.count })
        let logits = GradMode.withNoGrad { model.forward(ids: ids, batch: distinct.count, time: longest, cache: cache, lastOnly: true) }.value
        guard distinct.count < prompts.count else { return (cache, logits) }
        let copied = Tensor(uninitialized: [prompts.count, 1, vocab])
        for (b, s) in source.enumerated() { (copied.data + b * vocab).update(from: logits.data + s * vocab, count: vocab) }
        return (KVCache(keeping: source, of: cache), copied)
    }

    /// Generates for requests that each have their own options (sampling, stops, length), as a
    /// server's batch does. `isCancelled(row)` is polled every step: a cancelled row stops.
    ///
    /// Without streaming (`onToken` nil: evaluation, sampling for data) the batch runs as one
    /// contiguous part per core at once (`Parallel.lanes`), each part its own batch and cache
    /// on one thread: a decode step's products are small (one row per sequence), and splitting
    /// every one of them across the cores costs a fork and join per op. Each row's tokens
    /// depend only on its prompt and its options, so the split does not change what a row
    /// generates. `isCancelled` may then be called from the lanes' threads.
    public func generate(requests: [GenerationRequest], onToken: ((Int, Int, String) -> Void)? = nil,
                         isCancelled: (Int) -> Bool = { _ in false }) -> [GenerationResult] {
        precondition(!requests.isEmpty && requests.allSatisfy { !$0.prompt.isEmpty }, "every prompt needs at least one token")
        let lanes = onToken == nil ? Parallel.laneCount(items: requests.count) : 1
        lastLanes = lanes
        guard lanes > 1 else {
            let (results, compacted) = generateOneBatch(requests, onToken: onToken, isCancelled: isCancelled)
            compactions += compacted
            return results
        }
        let parts = Parallel.contiguousParts(requests.count, lanes)
        var outcomes = [(results: [GenerationResult], compactions: Int)](repeating: ([], 0), count: lanes)
        outcomes.withUnsafeMutableBufferPointer { out in
            Parallel.lanes(lanes) { lane in
                let part = parts[lane]
                out[lane] = generateOneBatch(Array(requests[part]), onToken: nil, isCancelled: { isCancelled(part.lowerBound + $0) })
            }
        }
        compactions += outcomes.reduce(0) { $0 + $1.compactions }
        return outcomes.flatMap(\.results)
    }

    /// One batch, one cache: prefill, then a decode step per token for every unfinished row.
    /// Returns the results and how many times it compacted the batch.
    private func generateOneBatch(_ requests: [GenerationRequest], onToken: ((Int, Int, String) -> Void)?,
                                  isCancelled: (Int) -> Bool) -> (results: [GenerationResult], compactions: Int) {
        var compacted = 0
        let batch = requests.count
        let longest = requests.map(\.prompt.count).max()!
        let steps = requests.map(\.options.maxNewTokens).max()!
        let capacity = longest + steps
        precondition(capacity <= model.config.maxPositionEmbeddings, "prompt (\(longest)) plus \(steps) new tokens exceeds the model's context of \(model.config.maxPositionEmbeddings)")
        let padId = Int32(tokenizer.padTokenId ?? tokenizer.eosTokenId ?? 0)
        var (cache, logits) = prefill(requests.map(\.prompt), capacity: capacity, padId: padId)
        // The request each row of the cache (and of the logits) belongs to.
        var rows = Array(0..<batch)
        // Each request draws from its own seed's stream: its tokens do not depend on its batch
        // or its row (the same seed and prompt give the same text, as OpenAI's `seed` promises).
        var samplers = requests.map { Sampler($0.options.sampling) }
        var generated = [[Int]](repeating: [], count: batch)
        var finished = [FinishReason?](repeating: nil, count: batch)
        var texts = [String](repeating: "", count: batch)
        var emitted = [Int](repeating: 0, count: batch)   // characters already streamed
        let vocab = model.config.vocabSize

        for _ in 0..<steps {
            var next = [Int32](repeating: padId, count: rows.count)
            for (row, b) in rows.enumerated() where finished[b] == nil {
                let options = requests[b].options
                if isCancelled(b) { finished[b] = .stop; continue }
                let token = samplers[b].sample(logits.data + row * vocab, count: vocab)
                next[row] = Int32(token)
                if options.stopTokens.contains(token) { finished[b] = .stop; continue }
                generated[b].append(token)
                texts[b] = tokenizer.decode(generated[b])
                if let stop = options.stopStrings.compactMap({ texts[b].range(of: $0) }).min(by: { $0.lowerBound < $1.lowerBound }) {
                    texts[b] = String(texts[b][..<stop.lowerBound])
                    finished[b] = .stop
                }
                if let onToken {
                    var visible = texts[b]
                    if finished[b] == nil {
                        if visible.hasSuffix("\u{FFFD}") { visible.removeLast() }
                        let hold = options.stopStrings.map { s in (1..<max(s.count, 1)).last { visible.hasSuffix(s.prefix($0)) } ?? 0 }.max() ?? 0
                        visible.removeLast(min(hold, visible.count))
                    }
                    if visible.count > emitted[b] {
                        onToken(b, token, String(visible.dropFirst(emitted[b])))
                        emitted[b] = visible.count
                    }
                }
                if finished[b] == nil && generated[b].count >= options.maxNewTokens { finished[b] = .length }
            }
            if finished.allSatisfy({ $0 != nil }) { break }
            // Finished rows stop costing compute: once a quarter of the rows are done, the cache
            // keeps only the running ones (each row's result does not depend on the others).
            let running = rows.indices.filter { finished[rows[$0]] == nil }
            if rows.count - running.count >= max(1, rows.count / 4) {
                cache = KVCache(keeping: running, of: cache)
                next = running.map { next[$0] }
                rows = running.map { rows[$0] }
                compacted += 1
            }
            logits = GradMode.withNoGrad { model.forward(ids: next, batch: rows.count, time: 1, cache: cache, lastOnly: true) }.value
        }
        let results = (0..<batch).map { b in
            GenerationResult(tokens: generated[b], text: texts[b], finishReason: finished[b] ?? .length, promptTokens: requests[b].prompt.count)
        }
        return (results, compacted)
    }
}
