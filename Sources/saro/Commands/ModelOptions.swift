import Support
import ArgumentParser
import Foundation
import Models
import Serving
import Tokenizers

/// Options every command that loads a model shares.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "A model: a known name (\(ModelStore.known.keys.sorted().joined(separator: ", "))), a Hugging Face directory (config.json, safetensors, tokenizer.json) or a .gguf file.",
        valueName: "name-or-path"))
    var model = ModelStore.defaultModel

    @Option(help: ArgumentHelp("A LoRA adapter folder (PEFT layout) to apply on the model: folded into a copy of its weights, a GGUF model's adapted projections rounded to Q8_0, so decoding runs near the base model's speed.", valueName: "folder"))
    var adapter: String?

    func load() throws -> PretrainedModel {
        try PretrainedModel.load(model) { FileHandle.standardError.write(Data("saro: \($0)\n".utf8)) }
    }

    /// The model for inference, with the adapter applied when one is given.
    func makeModel(_ loaded: PretrainedModel) throws -> LlamaModel {
        try loaded.makeModel(adapter: adapter)
    }
}

extension ModelOptions {
    /// An OpenAI server for this model (and adapter), with `configure` setting its options;
    /// `runtimeAdapters` lets clients load LoRA adapters on the base model as vLLM's do.
    func makeServer(chatTemplate: String?, runtimeAdapters: Bool = false, configure: (inout OpenAIServer.Options) -> Void) throws -> OpenAIServer {
        let loaded = try load()
        let model = try makeModel(loaded)
        var options = OpenAIServer.Options()
        options.modelID = URL(fileURLWithPath: self.model).lastPathComponent
        configure(&options)
        let base = SendableModel(loaded)
        var loader: (@Sendable (String) throws -> LlamaModel)?
        if runtimeAdapters { loader = { path in try base.make(adapter: path) } }
        let template = try ChatTemplate.resolve(name: chatTemplate, tokenizer: loaded.tokenizer)
        if let w = template.warning { FileHandle.standardError.write(Data("saro: warning: \(w)\n".utf8)) }
        return OpenAIServer(model: model, tokenizer: loaded.tokenizer, template: template, options: options, adapterLoader: loader)
    }
}

/// The loaded base model, read (never changed) by the loader of run-time adapters.
private struct SendableModel: @unchecked Sendable {
    let loaded: PretrainedModel
    init(_ loaded: PretrainedModel) { self.loaded = loaded }
    /// The adapter stays unfolded: a folded one would copy every projection of the base.
    func make(adapter: String) throws -> LlamaModel { try loaded.makeModel(adapter: adapter, fold: false) }
}

/// Options of commands that render chat conversations.
struct ChatOptions: ParsableArguments {
    @Option(help: "Chat template: auto (the model's own, from tokenizer_config.json or the GGUF), a Jinja template file, or the built-in chatml, llama3 or mistral.")
    var chatTemplate = "auto"

    @Option(help: "System prompt (default: the template's own, if it has one).")
    var system: String?

    func messages(user: String) -> [ChatMessage] {
        (system.map { [ChatMessage.system($0)] } ?? []) + [.user(user)]
    }
}

/// Writes a JSON value to standard output.
func printJSON<T: Encodable>(_ value: T, pretty: Bool = false) throws {
    let enc = JSONEncoder()
    enc.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try enc.encode(value), as: UTF8.self))
}
