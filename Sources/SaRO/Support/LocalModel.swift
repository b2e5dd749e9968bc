import Foundation
import Jobs
import Models
import Tensor
import Tokenizers

/// A model on this machine used for data building: batched chat completions through the
/// generation engine. `fingerprint` names the weights (paths, sizes, modification times), so
/// cached samples are reused only for the same model.
public final class LocalModel: @unchecked Sendable {
    public struct Loaded { public var model: LlamaModel; public var tokenizer: Tokenizer; public var template: ChatTemplate
        public init(model: LlamaModel, tokenizer: Tokenizer, template: ChatTemplate) { self.model = model; self.tokenizer = tokenizer; self.template = template }
    }
    public let fingerprint: String
    /// Rows decoded together.
    public var batchSize = 8
    private let loader: () throws -> Loaded
    private var loaded: (Generator, ChatTemplate)?
    private let lock = NSLock()

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

    /// A fingerprint of files: path, size and modification time of each (folders: their files).
    public static func fingerprint(paths: [String]) -> String {
        var parts: [String] = []
        for p in paths {
            var files = [p]
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: p, isDirectory: &isDir), isDir.boolValue {
                files = ((try? FileManager.default.contentsOfDirectory(atPath: p)) ?? []).sorted().map { (p as NSString).appendingPathComponent($0) }
            }
            for f in files {
                let a = try? FileManager.default.attributesOfItem(atPath: f)
                parts.append("\(f)|\((a?[.size] as? Int) ?? -1)|\((a?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0)")
            }
        }
        return ContentKey.of(parts)
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

/// Benign answers from a local model (the offline teacher's answerer): greedy decoding.
public struct ModelAnswerer: Answerer {
    public let model: LocalModel
    public let maxTokens: Int
    public init(model: LocalModel, maxTokens: Int = 256) { self.model = model; self.maxTokens = maxTokens }
    public var id: String { ContentKey.of("model-answerer", model.fingerprint, "\(maxTokens)") }

    public func answer(_ prompts: [String]) async throws -> [String] {
        try model.complete(prompts.map { [ChatMessage.user($0)] }, options: prompts.map { _ in GenerationOptions(maxNewTokens: maxTokens) })
            .map { $0.text.trimmingCharacters(in: .whitespacesAndNewlines) }
    }
}
