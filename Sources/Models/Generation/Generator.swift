import Tensor
import Tokenizers

/// Why a sequence stopped, in OpenAI's words.
public enum FinishReason: String, Sendable, Codable { case stop, length }

public struct GenerationResult: Sendable {
    public var tokens: [Int]
    public var text: String
    public var finishReason: FinishReason
    public var promptTokens: Int
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

/// Batched generation with a KV cache: prompts of different lengths are left-padded into one
/// batch, prefilled together, then decoded one token per step for every unfinished row.
public final class Generator {
    public let model: LlamaModel
    public let tokenizer: Tokenizer

    public init(model: LlamaModel, tokenizer: Tokenizer) {
        self.model = model
        self.tokenizer = tokenizer
    }

    /// Generates for each prompt (token ids). `onToken(row, token, textDelta)` streams each
    /// new token with the text it completes (held back while a UTF-8 sequence is unfinished).
    public func generate(prompts: [[Int]], options: GenerationOptions,
                         onToken: ((Int, Int, String) -> Void)? = nil) -> [GenerationResult] {
        precondition(!prompts.isEmpty && prompts.allSatisfy { !$0.isEmpty }, "every prompt needs at least one token")
        let batch = prompts.count
        let longest = prompts.map(\.count).max()!
        let capacity = longest + options.maxNewTokens
        precondition(capacity <= model.config.maxPositionEmbeddings, "prompt (\(longest)) plus \(options.maxNewTokens) new tokens exceeds the model's context of \(model.config.maxPositionEmbeddings)")
        let padding = prompts.map { longest - $0.count }
        let padId = Int32(tokenizer.padTokenId ?? tokenizer.eosTokenId ?? 0)
        var ids: [Int32] = []
        for (p, pad) in zip(prompts, padding) { ids += [Int32](repeating: padId, count: pad) + p.map { Int32($0) } }
        let cache = KVCache(config: model.config, batch: batch, capacity: capacity, padding: padding)
        var samplers = (0..<batch).map { Sampler(options.sampling, stream: UInt64($0)) }
        var generated = [[Int]](repeating: [], count: batch)
        var finished = [FinishReason?](repeating: nil, count: batch)
        var texts = [String](repeating: "", count: batch)
        var emitted = [Int](repeating: 0, count: batch)   // characters already streamed
        let vocab = model.config.vocabSize

        var logits = GradMode.withNoGrad { model.forward(ids: ids, batch: batch, time: longest, cache: cache, lastOnly: true) }.value
        for _ in 0..<options.maxNewTokens {
            var next = [Int32](repeating: padId, count: batch)
            for b in 0..<batch where finished[b] == nil {
                let token = samplers[b].sample(logits.data + b * vocab, count: vocab)
                next[b] = Int32(token)
                if options.stopTokens.contains(token) { finished[b] = .stop; continue }
                generated[b].append(token)
                texts[b] = tokenizer.decode(generated[b])
                if let stop = options.stopStrings.compactMap({ texts[b].range(of: $0) }).min(by: { $0.lowerBound < $1.lowerBound }) {
                    texts[b] = String(texts[b][..<stop.lowerBound])
                    finished[b] = .stop
                }
                if let onToken {
                    // Hold back a trailing replacement character: the next token may complete it,
                    // and text that could still become a stop string.
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
            logits = GradMode.withNoGrad { model.forward(ids: next, batch: batch, time: 1, cache: cache, lastOnly: true) }.value
        }
        return (0..<batch).map { b in
            GenerationResult(tokens: generated[b], text: texts[b], finishReason: finished[b] ?? .length, promptTokens: prompts[b].count)
        }
    }
}
