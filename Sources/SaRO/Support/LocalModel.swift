import Foundation
import Jobs
import Models
import Tensor
import Tokenizers

/// A model on this machine used for data building: batched chat completions through the
/// generation engine. `fingerprint` names the weights by content (`FileDigest`), so cached
/// samples are reused only for the same model, wherever its files sit.
public final class LocalModel: @unchecked Sendable {
    public struct Loaded { public var model: LlamaModel; public var tokenizer: Tokenizer; public var template: ChatTemplate
        public init(model: LlamaModel, tokenizer: Tokenizer, template: ChatTemplate) { self.model = model; self.tokenizer = tokenizer; self.template = template }
    }
    public let fingerprint: String
    /// Rows decoded together.
    public var batchSize = 8
    private let loader: () throws -> Loaded
    private var loaded: (Generator, ChatTemplate)?
    let lock = NSLock()

    /// The model is loaded on first use: a rerun whose samples are all stored never loads it.
    public init(fingerprint: String, load: @escaping () throws -> Loaded) {
        self.fingerprint = fingerprint; self.loader = load
    }

    public convenience init(model: LlamaModel, tokenizer: Tokenizer, template: ChatTemplate, fingerprint: String) {
        self.init(fingerprint: fingerprint) { Loaded(model: model, tokenizer: tokenizer, template: template) }
    }

    func engine() throws -> (Generator, ChatTemplate) {
        if let l = loaded { return l }
        let l = try loader()
        loaded = (Generator(model: l.model, tokenizer: l.tokenizer), l.template)
        return loaded!
    }

    /// A model by name or path, with a LoRA adapter folder (PEFT layout) applied when given;
    /// loaded on first use. The chat template is the model's own.
    public static func open(_ name: String, adapter: String?, batchSize: Int = 8, log: @escaping (String) -> Void = { _ in }) throws -> LocalModel {
        let url = try ModelStore.resolve(name, log: log)
        let model = LocalModel(fingerprint: ContentKey.of(([url.path] + (adapter.map { [$0] } ?? [])).map(FileDigest.of))) {
            let loaded = try PretrainedModel.load(url: url)
            return Loaded(model: try loaded.makeModel(adapter: adapter), tokenizer: loaded.tokenizer,
                          template: try ChatTemplate.resolve(name: nil, tokenizer: loaded.tokenizer))
        }
        model.batchSize = batchSize
        return model
    }

    public struct Completion: Sendable { public var text: String; public var tokens: Int }

    /// One completion per conversation, each with its own options. Conversations are decoded
    /// in batches of similar prompt length; `progress` is called after each batch.
    public func complete(_ conversations: [[ChatMessage]], options: [GenerationOptions], progress: ((Int) -> Void)? = nil) throws -> [Completion] {
        lock.lock(); defer { lock.unlock() }
        let (generator, template) = try engine()
        let tokenizer = generator.tokenizer
        let stops = template.stopTokenIds(tokenizer: tokenizer)
        let prompts = try conversations.map { try template.render($0, tokenizer: tokenizer, addGenerationPrompt: true).ids }
        var out = [Completion?](repeating: nil, count: prompts.count)
        let order = prompts.indices.sorted { prompts[$0].count < prompts[$1].count }
        var start = 0
        while start < order.count {
            let rows = Array(order[start..<min(order.count, start + batchSize)])
            let context = generator.model.config.maxPositionEmbeddings
            let requests = rows.map { i -> GenerationRequest in
                var o = options[i]
                o.stopTokens.formUnion(stops)
                o.maxNewTokens = max(1, min(o.maxNewTokens, context - prompts[i].count))
                return GenerationRequest(prompt: Array(prompts[i].suffix(context - 1)), options: o)
            }
            let results = generator.generate(requests: requests)
            for (i, r) in zip(rows, results) { out[i] = Completion(text: r.text, tokens: r.tokens.count) }
            start += rows.count
            progress?(rows.count)
        }
        return out.map { $0! }
    }
}

extension LocalModel {
    /// Tokens of a text under this model's tokenizer.
    public func countTokens(_ text: String) throws -> Int {
        lock.lock(); defer { lock.unlock() }
        return try engine().0.tokenizer.encode(text, parseSpecial: false).count
    }

    /// Sum of the negative log-likelihood of the assistant tokens of each conversation (the
    /// loss-masked tokens, end-of-turn included) and how many there are: teacher forcing,
    /// no generation.
    public func assistantNLL(_ conversations: [[ChatMessage]]) throws -> [(sum: Double, tokens: Int)] {
        lock.lock(); defer { lock.unlock() }
        let (generator, template) = try engine()
        let model = generator.model
        return try conversations.map { conv in
            var (ids, mask) = try template.render(conv, tokenizer: generator.tokenizer, requireLoss: true)
            let context = model.config.maxPositionEmbeddings
            if ids.count > context { ids = Array(ids.prefix(context)); mask = Array(mask.prefix(context)) }
            // targets[t] = ids[t+1] where that token is trained; -100 elsewhere.
            let targets = (0..<ids.count).map { t in t + 1 < ids.count && mask[t + 1] ? Int32(ids[t + 1]) : -100 }
            let logp = GradMode.withNoGrad {
                Ops.gatherLogProbs(model.forward(ids: ids.map { Int32($0) }, batch: 1, time: ids.count), targets: targets)
            }.value.scalars
            var sum = 0.0, n = 0
            for (t, target) in targets.enumerated() where target >= 0 { sum -= Double(logp[t]); n += 1 }
            return (sum, n)
        }
    }
}

extension LocalModel {
    /// Mean over a prompt's tokens of the hidden state after `layer` decoder layers, the prompt
    /// rendered as a user turn with the assistant header (what the model sees before answering).
    public func meanHiddenState(_ prompts: [String], layer: Int) throws -> [[Double]] {
        lock.lock(); defer { lock.unlock() }
        let (generator, template) = try engine()
        let model = generator.model
        return try prompts.map { p in
            var ids = try template.render([ChatMessage.user(p)], tokenizer: generator.tokenizer, addGenerationPrompt: true).ids
            ids = Array(ids.suffix(model.config.maxPositionEmbeddings))
            let h = model.hiddenStates(ids: ids.map { Int32($0) }, layer: layer).scalars
            let d = model.config.hiddenSize
            var mean = [Double](repeating: 0, count: d)
            for t in 0..<ids.count { for j in 0..<d { mean[j] += Double(h[t * d + j]) } }
            return mean.map { $0 / Double(ids.count) }
        }
    }

    /// The model's number of decoder layers (loads the model).
    public func layerCount() throws -> Int {
        lock.lock(); defer { lock.unlock() }
        return try engine().0.model.config.numHiddenLayers
    }
}

/// Benign answers from a local model (the offline teacher's answerer): greedy, or sampled at `temperature`.
public struct ModelAnswerer: Answerer {
    public let model: LocalModel
    public let maxTokens: Int
    /// 0: greedy. Otherwise each prompt's answer is sampled (top-p 1) with a seed drawn from the
    /// prompt, so it does not depend on the batch it was decoded in.
    public let temperature: Float
    public init(model: LocalModel, maxTokens: Int = 256, temperature: Float = 0) {
        self.model = model; self.maxTokens = maxTokens; self.temperature = temperature
    }
    public var id: String {
        temperature > 0 ? ContentKey.of("model-answerer", model.fingerprint, "\(maxTokens)", "temperature \(temperature)")
            : ContentKey.of("model-answerer", model.fingerprint, "\(maxTokens)")
    }
    public var batchSize: Int { model.batchSize }

    public func answer(_ prompts: [String]) async throws -> [String] {
        let options = prompts.map { p in
            GenerationOptions(maxNewTokens: maxTokens, sampling: temperature > 0
                ? SamplingParameters(temperature: temperature, seed: ContentKey.seed(ContentKey.of("answer", p))) : .greedy)
        }
        return try model.complete(prompts.map { [ChatMessage.user($0)] }, options: options).map { $0.text.trimmingCharacters(in: .whitespacesAndNewlines) }
    }
}
