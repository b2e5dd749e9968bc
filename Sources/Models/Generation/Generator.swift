import Foundation
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

/// Requests that keep arriving while a batch decodes (a server's queue), for
/// `Generator.generate(feed:...)`.
public protocol RequestFeed: AnyObject {
    /// Up to `n` requests that have arrived, each with the key the callbacks name it by.
    func take(_ n: Int) -> [(key: Int, request: GenerationRequest)]
    /// Whether requests are waiting to be taken.
    var hasWaiting: Bool { get }
}

/// Batched generation with a KV cache: prompts of different lengths are left-padded (in groups
/// of similar length) into one batch, prefilled, then decoded one token per step for every
/// unfinished row.
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

    /// Runs the prompts into a new cache and returns it with each row's next-token logits
    /// [rows, 1, vocab]. Rows with the same prompt (several samples of one query) share one
    /// prefill: each distinct prompt runs once, then its cache rows and logits are copied.
    /// Prompts of very different lengths (a server's batch is whatever arrived together) run in
    /// groups of similar length, each left-padded to its own longest, and the groups' caches are
    /// then joined: padding every prompt to the batch's longest would compute the pad positions
    /// of every short prompt.
    func prefill(_ prompts: [[Int]], capacity: Int, padId: Int32) -> (KVCache, Tensor) {
        var distinct: [[Int]] = [], slot: [[Int]: Int] = [:]
        let source = prompts.map { p -> Int in
            if let s = slot[p] { return s }
            slot[p] = distinct.count
            distinct.append(p)
            return distinct.count - 1
        }
        let vocab = model.config.vocabSize
        let groups = Self.prefillGroups(lengths: distinct.map(\.count))
        var cache: KVCache?, logits: [Tensor] = [], order: [Int] = []
        for group in groups {
            let longest = group.map { distinct[$0].count }.max()!
            var ids: [Int32] = []
            for d in group { ids += [Int32](repeating: padId, count: longest - distinct[d].count) + distinct[d].map { Int32($0) } }
            let own = KVCache(config: model.config, batch: group.count, capacity: groups.count == 1 ? capacity : longest,
                              padding: group.map { longest - distinct[$0].count })
            logits.append(GradMode.withNoGrad { model.forward(ids: ids, batch: group.count, time: longest, cache: own, lastOnly: true) }.value)
            cache = cache.map { KVCache(rows: Array(0..<$0.batch), of: $0, joining: own, extra: 0) } ?? own
            order += group
        }
        // Row r of the joined cache holds distinct prompt order[r]; each row asked for takes it.
        let rowOf = Dictionary(uniqueKeysWithValues: order.enumerated().map { ($1, $0) })
        let rows = source.map { rowOf[$0]! }
        if groups.count == 1 && rows == Array(0..<rows.count) { return (cache!, logits[0]) }
        let copied = Tensor(uninitialized: [prompts.count, 1, vocab])
        let starts = logits.reduce(into: [0]) { $0.append($0.last! + $1.shape[0]) }
        for (b, r) in rows.enumerated() {
            let g = starts.lastIndex { $0 <= r }!
            (copied.data + b * vocab).update(from: logits[g].data + (r - starts[g]) * vocab, count: vocab)
        }
        return (KVCache(rows: rows, of: cache!, joining: nil, extra: capacity - cache!.length), copied)
    }

    /// Prompts of similar length, as groups of indices into `lengths`, longest first: a prompt
    /// joins the group of the longest not yet placed when it is at least three quarters as
    /// long, so padding is at most a quarter of any row.
    static func prefillGroups(lengths: [Int]) -> [[Int]] {
        var groups: [[Int]] = []
        for i in lengths.indices.sorted(by: { lengths[$0] > lengths[$1] }) {
            if let head = groups.last?.first, 4 * lengths[i] >= 3 * lengths[head] { groups[groups.count - 1].append(i) } else { groups.append([i]) }
        }
        return groups
    }

    /// Generates for requests that each have their own options (sampling, stops, length), as a
    /// server's batch does. `isCancelled(row)` is polled every step: a cancelled row stops.
    ///
    /// At most `width` sequences decode at once (all of them when nil). As sequences finish,
    /// the next requests, in order, take their places: they are prefilled and join the running
    /// batch, so the batch stays full instead of emptying toward its longest answer. Callers
    /// that order requests by prompt length keep each prefill's padding small.
    ///
    /// Without streaming (`onToken` nil: evaluation, sampling for data) the work runs as one
    /// lane per core (`Parallel.lanes`), each lane its own batch and cache on one thread,
    /// taking requests from one shared queue: a decode step's products are small (one row per
    /// sequence), and splitting every one of them across the cores costs a fork and join per
    /// op. Each row's tokens depend only on its prompt and its options, so neither the lanes nor
    /// the batch a request joins change what it generates. `isCancelled` may then be called
    /// from the lanes' threads.
    public func generate(requests: [GenerationRequest], width: Int? = nil, onToken: ((Int, Int, String) -> Void)? = nil,
                         isCancelled: (Int) -> Bool = { _ in false }) -> [GenerationResult] {
        precondition(!requests.isEmpty, "no requests")
        precondition(width.map { $0 >= 1 } ?? true, "width must be at least 1")
        requests.forEach(checkRequest)
        let lanes = onToken == nil ? Parallel.laneCount(items: requests.count) : 1
        lastLanes = lanes
        // Rows per lane: the width shared out, or each lane's share of all the requests.
        let perLane = max(1, ((width ?? requests.count) + lanes - 1) / lanes)
        let queue = RequestQueue(count: requests.count)
        var results = [GenerationResult?](repeating: nil, count: requests.count)
        var compacted = [Int](repeating: 0, count: lanes)
        results.withUnsafeMutableBufferPointer { out in
            compacted.withUnsafeMutableBufferPointer { counts in
                guard lanes > 1 else {
                    counts[0] = decode(width: perLane, request: { requests[$0] }, take: queue.take, waiting: { false }, finished: { out[$0] = $1 },
                                       onToken: onToken, isCancelled: isCancelled)
                    return
                }
                Parallel.lanes(lanes) { lane in
                    counts[lane] = decode(width: perLane, request: { requests[$0] }, take: queue.take, waiting: { false }, finished: { out[$0] = $1 },
                                          onToken: nil, isCancelled: isCancelled)
                }
            }
        }
        compactions += compacted.reduce(0, +)
        return results.map { $0! }
    }

    /// The requests not yet started, shared by the lanes.
    final class RequestQueue: @unchecked Sendable {
        private let lock = NSLock()
        private var next = 0
        let count: Int
        init(count: Int) { self.count = count }
        /// Up to `n` request indices, in order.
        func take(_ n: Int) -> [Int] {
            lock.lock(); defer { lock.unlock() }
            let taken = Array(next..<min(count, next + max(0, n)))
            next += taken.count
            return taken
        }
    }

    /// Generates requests that keep arriving while others decode, as a server's queue holds
    /// them (continuous batching): at most `width` decode at once, and whenever a place is free
    /// and `feed` has requests waiting, they are prefilled and join the running batch. Each
    /// request's result goes to `finished` as soon as it ends, not when the batch does. Returns
    /// when nothing runs and the feed has nothing more. Keys are the feed's; every callback
    /// runs on the calling thread. Each request generates what it would alone.
    public func generate(feed: RequestFeed, width: Int, onToken: ((Int, Int, String) -> Void)? = nil, isCancelled: (Int) -> Bool = { _ in false },
                         finished: (Int, GenerationResult) -> Void) {
        precondition(width >= 1, "width must be at least 1")
        var taken: [Int: GenerationRequest] = [:]
        lastLanes = 1
        compactions += decode(width: width, request: { taken[$0]! },
                              take: { n in
                                  let new = feed.take(n)
                                  for (key, r) in new {
                                      checkRequest(r)
                                      taken[key] = r
                                  }
                                  return new.map(\.key)
                              },
                              waiting: { feed.hasWaiting },
                              finished: { key, result in finished(key, result); taken[key] = nil },
                              onToken: onToken, isCancelled: isCancelled)
    }

    /// A request the generator can run: a prompt of at least one token that, with its new
    /// tokens, fits the model's context (callers check with `checkFits` first).
    private func checkRequest(_ r: GenerationRequest) {
        let context = model.config.maxPositionEmbeddings
        precondition(!r.prompt.isEmpty, "every prompt needs at least one token")
        precondition(r.prompt.count + r.options.maxNewTokens <= context,
                     "a prompt plus its new tokens exceeds the model's context of \(context) (checkFits finds it before generating)")
    }

    /// One sequence's decoding state.
    private struct Row {
        var sampler: Sampler
        var generated: [Int] = []
        var finished: FinishReason?
        var text = ""
        var emitted = 0   // characters already streamed
    }

    /// One lane: decodes up to `width` requests at once, refilling the batch as sequences
    /// finish (or as a feed's requests arrive), and hands each result on as its request ends.
    /// Returns how many times it rebuilt the cache (to drop finished rows or to let new ones
    /// join).
    /// `request(key)` is a request by its key, `take(n)` the keys of up to n requests to start,
    /// `waiting()` whether more wait to join a running batch, and `finished` hears each result
    /// as its request ends.
    private func decode(width: Int, request: (Int) -> GenerationRequest, take: (Int) -> [Int], waiting: () -> Bool, finished: (Int, GenerationResult) -> Void,
                        onToken: ((Int, Int, String) -> Void)?, isCancelled: (Int) -> Bool) -> Int {
        let padId = Int32(tokenizer.padTokenId ?? tokenizer.eosTokenId ?? 0)
        let vocab = model.config.vocabSize
        var state: [Int: Row] = [:]
        var reported = Set<Int>()
        var rebuilt = 0

        /// Samples request b's next token from its logits and updates its state; the pad token
        /// once it has finished.
        func advance(_ b: Int, _ logits: UnsafePointer<Float>) -> Int32 {
            guard state[b]!.finished == nil else { return padId }
            let options = request(b).options
            if isCancelled(b) { state[b]!.finished = .stop; return padId }
            if options.maxNewTokens <= 0 { state[b]!.finished = .length; return padId }
            let token = state[b]!.sampler.sample(logits, count: vocab)
            if options.stopTokens.contains(token) { state[b]!.finished = .stop; return Int32(token) }
            var row = state[b]!
            row.generated.append(token)
            row.text = tokenizer.decode(row.generated)
            if let stop = options.stopStrings.compactMap({ row.text.range(of: $0) }).min(by: { $0.lowerBound < $1.lowerBound }) {
                row.text = String(row.text[..<stop.lowerBound])
                row.finished = .stop
            }
            if let onToken {
                var visible = row.text
                if row.finished == nil {
                    if visible.hasSuffix("\u{FFFD}") { visible.removeLast() }
                    let hold = options.stopStrings.map { s in (1..<max(s.count, 1)).last { visible.hasSuffix(s.prefix($0)) } ?? 0 }.max() ?? 0
                    visible.removeLast(min(hold, visible.count))
                }
                if visible.count > row.emitted {
                    onToken(b, token, String(visible.dropFirst(row.emitted)))
                    row.emitted = visible.count
                }
            }
            if row.finished == nil && row.generated.count >= options.maxNewTokens { row.finished = .length }
            state[b] = row
            return Int32(token)
        }
        /// Requests b start: their prompts are prefilled (room for `extra` positions after the
        /// longest) and their first tokens sampled.
        func start(_ bs: [Int], extra: Int) -> (KVCache, [Int32]) {
            // Each request draws from its own seed's stream: its tokens do not depend on its
            // batch or its row (the same seed and prompt give the same text, as OpenAI's `seed`
            // promises).
            for b in bs { state[b] = Row(sampler: Sampler(request(b).options.sampling)) }
            let (cache, logits) = prefill(bs.map { request($0).prompt }, capacity: bs.map { request($0).prompt.count }.max()! + extra, padId: padId)
            return (cache, bs.enumerated().map { i, b in advance(b, logits.data + i * vocab) })
        }
        // A finished request may already have been handed on (and its feed forgotten it).
        func remaining(_ b: Int) -> Int { state[b]!.finished != nil ? 0 : request(b).options.maxNewTokens - state[b]!.generated.count }
        /// Hands each row that has finished and not yet been handed on to `finished`.
        func report(_ rows: [Int]) {
            for b in rows where !reported.contains(b) {
                guard let row = state[b], let reason = row.finished else { continue }
                reported.insert(b)
                finished(b, GenerationResult(tokens: row.generated, text: row.text, finishReason: reason, promptTokens: request(b).prompt.count))
            }
        }

        var rows = take(width)    // the request each row of the cache belongs to
        guard !rows.isEmpty else { return 0 }
        var (cache, next) = start(rows, extra: rows.map { request($0).options.maxNewTokens }.max()!)
        report(rows)
        while true {
            let running = rows.indices.filter { state[rows[$0]]!.finished == nil }
            let done = rows.count - running.count
            // Once a quarter of the rows are done (or all), or a place is free and requests
            // wait for one, the cache keeps only the running rows and new requests take the
            // free places.
            if done >= max(1, rows.count / 4) || running.isEmpty || (running.count < width && waiting()) {
                let joining = take(width - running.count)
                // Rows that leave the cache have been handed on: a server's loop keeps no trace.
                for b in rows where state[b]!.finished != nil { state[b] = nil; reported.remove(b) }
                if running.isEmpty && joining.isEmpty { break }
                var joined: KVCache?, first: [Int32] = []
                if !joining.isEmpty { (joined, first) = start(joining, extra: 0) }
                report(joining)
                let kept = running.map { rows[$0] } + joining
                cache = KVCache(rows: running, of: cache, joining: joined, extra: max(1, kept.map(remaining).max()!))
                next = running.map { next[$0] } + first
                rows = kept
                rebuilt += 1
                // New rows may have finished on their first token.
                if rows.allSatisfy({ state[$0]!.finished != nil }) { continue }
            }
            let logits = GradMode.withNoGrad { model.forward(ids: next, batch: rows.count, time: 1, cache: cache, lastOnly: true) }.value
            next = rows.enumerated().map { i, b in advance(b, logits.data + i * vocab) }
            report(rows)
        }
        return rebuilt
    }
}
