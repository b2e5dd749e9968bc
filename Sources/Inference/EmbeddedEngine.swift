import Support
import Foundation
import Jobs
import Models
import Tensor
import Tokenizers

/// A model on this machine, run by saro's own engine: batched generation with a KV cache,
/// teacher-forced scoring and hidden states. `fingerprint` names the weights by content
/// (`FileDigest`), so stored results are reused only for the same model, wherever its files sit.
public final class EmbeddedEngine: HiddenStateEngine, @unchecked Sendable {
    public struct Loaded { public var model: LlamaModel; public var tokenizer: Tokenizer; public var template: ChatTemplate
        public init(model: LlamaModel, tokenizer: Tokenizer, template: ChatTemplate) { self.model = model; self.tokenizer = tokenizer; self.template = template }
    }
    public let fingerprint: String
    /// Rows decoded together.
    public var batchSize = 8
    /// Requests worth handing over at once: several batches' worth, so that finished rows are
    /// refilled from the same call.
    public var chunkSize: Int { 4 * batchSize }
    private let loader: () throws -> Loaded
    private var loaded: (Generator, ChatTemplate)?
    private let lock = NSLock()

    /// The model is loaded on first use: a rerun whose results are all stored never loads it.
    public init(fingerprint: String, load: @escaping () throws -> Loaded) {
        self.fingerprint = fingerprint; self.loader = load
    }

    public convenience init(model: LlamaModel, tokenizer: Tokenizer, template: ChatTemplate, fingerprint: String) {
        self.init(fingerprint: fingerprint) { Loaded(model: model, tokenizer: tokenizer, template: template) }
    }

    /// A model by name or path, with a LoRA adapter folder (PEFT layout) applied when given;
    /// loaded on first use. The chat template is the model's own.
    public static func open(_ name: String, adapter: String?, batchSize: Int = 8, log: @escaping (String) -> Void = { _ in }) throws -> EmbeddedEngine {
        let url = try ModelStore.resolve(name, log: log)
        let engine = EmbeddedEngine(fingerprint: modelKey(url, adapter: adapter)) {
            let loaded = try PretrainedModel.load(url: url)
            let template = try ChatTemplate.resolve(name: nil, tokenizer: loaded.tokenizer)
            template.warning.map { log("warning: " + $0) }
            return Loaded(model: try loaded.makeModel(adapter: adapter), tokenizer: loaded.tokenizer, template: template)
        }
        engine.batchSize = batchSize
        return engine
    }

    /// Names a model folder (or file) and its adapter by their contents, wherever they sit.
    public static func modelKey(_ url: URL, adapter: String?) -> String {
        ContentKey.of(([url.path] + (adapter.map { [$0] } ?? [])).map(FileDigest.of))
    }

    /// Runs `body` on the loaded model, one caller at a time.
    private func withModel<T>(_ body: (Generator, ChatTemplate) throws -> T) throws -> T {
        lock.lock(); defer { lock.unlock() }
        if loaded == nil {
            let l = try loader()
            loaded = (Generator(model: l.model, tokenizer: l.tokenizer), l.template)
        }
        return try body(loaded!.0, loaded!.1)
    }

    /// Requests are decoded `batchSize` at a time, in order of prompt length: each finished
    /// answer's place goes to the next request (so a prefill pads little and the batch stays
    /// full).
    public func complete(_ requests: [CompletionRequest]) async throws -> [Completion] {
        try withModel { generator, template in
            let tokenizer = generator.tokenizer
            let stops = template.stopTokenIds(tokenizer: tokenizer)
            let prompts = try requests.map { try template.render($0.messages, tokenizer: tokenizer, addGenerationPrompt: true).ids }
            let context = generator.model.config.maxPositionEmbeddings
            let order = prompts.indices.sorted { (prompts[$0].count, $0) < (prompts[$1].count, $1) }
            let ordered = order.map { i -> GenerationRequest in
                let options = GenerationOptions(maxNewTokens: max(1, min(requests[i].maxTokens, context - prompts[i].count)),
                                                sampling: requests[i].sampling, stopTokens: stops)
                return GenerationRequest(prompt: Array(prompts[i].suffix(context - 1)), options: options)
            }
            var out = [Completion?](repeating: nil, count: prompts.count)
            for (i, r) in zip(order, generator.generate(requests: ordered, width: batchSize)) { out[i] = Completion(text: r.text, tokens: r.tokens.count) }
            return out.map { $0! }
        }
    }

    public func countTokens(_ text: String) throws -> Int? {
        try withModel { generator, _ in generator.tokenizer.encode(text, parseSpecial: false).count }
    }

    /// Teacher forcing over the loss-masked tokens (the assistant turns, end-of-turn included);
    /// a conversation longer than the context is cut at its end.
    public func assistantNLL(_ conversations: [[ChatMessage]]) async throws -> [AssistantNLL]? {
        try withModel { generator, template in
            let model = generator.model
            return try conversations.map { conv in
                var (ids, mask) = try template.render(conv, tokenizer: generator.tokenizer, requireLoss: true)
                let context = model.config.maxPositionEmbeddings
                if ids.count > context { ids = Array(ids.prefix(context)); mask = Array(mask.prefix(context)) }
                return AssistantNLL(logProbs: model.tokenLogProbs(ids), mask: mask) ?? AssistantNLL(sum: 0, tokens: 0)
            }
        }
    }

    public func layerCount() throws -> Int {
        try withModel { generator, _ in generator.model.config.numHiddenLayers }
    }

    public func pooledHiddenStates(_ prompts: [String], layers: Set<Int>) throws -> [[Int: PooledHiddenState]] {
        try withModel { generator, template in
            let model = generator.model
            let d = model.config.hiddenSize
            return try prompts.map { p in
                var ids = try template.render([ChatMessage.user(p)], tokenizer: generator.tokenizer, addGenerationPrompt: true).ids
                ids = Array(ids.suffix(model.config.maxPositionEmbeddings))
                return model.hiddenStates(ids: ids.map { Int32($0) }, layers: layers).mapValues { t in
                    let h = t.scalars
                    var mean = [Double](repeating: 0, count: d)
                    for i in 0..<ids.count { for j in 0..<d { mean[j] += Double(h[i * d + j]) } }
                    return PooledHiddenState(mean: mean.map { $0 / Double(ids.count) }, last: (0..<d).map { Double(h[(ids.count - 1) * d + $0]) })
                }
            }
        }
    }
}
