import Support
import ArgumentParser
import Foundation
import Inference
import Jobs
import Models
import OpenAIClient

/// Which engine runs the model: saro's own (the default), or OpenAI-compatible servers that
/// already serve it. Shared by the commands that generate with a model.
struct EngineOptions: ParsableArguments {
    @Option(name: .customLong("server"), help: ArgumentHelp(
        "Base URL of an OpenAI-compatible server (vLLM, SGLang, llama.cpp, `saro serve`) serving the model; repeat to spread requests over several. Default: saro's own engine.",
        valueName: "url"))
    var servers: [String] = []
    @Option(help: "The model's name at the servers (default: the adapter folder's name with --adapter, else --model's last path component).")
    var servedModel: String?
    @Option(help: "Environment variable holding the servers' API key.") var serverKeyEnv: String?
    @Option(help: "Requests in flight per server.") var serverConcurrency = 8
    @Option(help: "Seconds before a server request is abandoned and retried.") var serverTimeout: Double = 600

    func validate() throws {
        if serverConcurrency < 1 { throw ValidationError("--server-concurrency must be at least 1") }
        if !(serverTimeout > 0 && serverTimeout.isFinite) { throw ValidationError("--server-timeout must be a positive number of seconds") }
        if servers.isEmpty && servedModel != nil { throw ValidationError("--served-model needs --server") }
    }

    /// The engine for `model` (with `adapter`). On servers, stored answers are keyed by the
    /// weights' content when they are on this machine too (and tokens counted with their
    /// tokenizer), else by the served name and the servers.
    func engine(_ model: String, adapter: String?, batchSize: Int) throws -> InferenceEngine {
        let log: (String) -> Void = { FileHandle.standardError.write(Data("saro: \($0)\n".utf8)) }
        guard !servers.isEmpty else { return try EmbeddedEngine.open(model, adapter: adapter, batchSize: batchSize, log: log) }
        let name = servedModel ?? URL(fileURLWithPath: adapter ?? model).lastPathComponent
        let local = FileManager.default.fileExists(atPath: model) ? URL(fileURLWithPath: model) : nil
        let key = local.map { EmbeddedEngine.modelKey($0, adapter: adapter) } ?? ContentKey.of([name] + servers)
        let endpoints = servers.map {
            ChatEndpoint(baseURL: $0, model: name, apiKeyEnv: serverKeyEnv, maxConcurrency: serverConcurrency, timeoutSeconds: serverTimeout, maxRetries: 2)
        }
        return try ServerEngine(endpoints: endpoints, modelKey: key, tokenizer: local.flatMap { try? PretrainedModel.loadTokenizer($0.path) })
    }
}
