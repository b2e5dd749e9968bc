import ArgumentParser
import Foundation
import Models
import Serving
import Tokenizers

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve a model over an OpenAI-compatible HTTP API.",
        discussion: """
            Endpoints: POST /v1/chat/completions and POST /v1/completions (with "stream": true for \
            server-sent events), GET /v1/models, GET /health. Up to --max-batch requests are \
            generated together, and a request that arrives while others run joins them as soon \
            as a place is free (continuous batching); at most --max-queue wait (more get 429). \
            Binds to loopback unless --host says otherwise; with --api-key every /v1 request \
            needs "Authorization: Bearer KEY". SIGINT or SIGTERM stops accepting and lets running \
            requests finish.

            With --enable-runtime-lora, LoRA adapters on the model are loaded and unloaded while \
            it serves, through vLLM's routes: POST /v1/load_lora_adapter {"lora_name", \
            "lora_path"} and POST /v1/unload_lora_adapter {"lora_name"}; a request names the \
            adapter as its model. A recipe's engine.urls uses them.
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var chat: ChatOptions
    @Option(help: "Address to bind.") var host = "127.0.0.1"
    @Option(help: "Port (0 picks a free one).") var port = 8000
    @Option(help: "Require this bearer token (visible to other users in `ps`: prefer --api-key-file or SARO_API_KEY).") var apiKey: String?
    @Option(help: ArgumentHelp("Read the bearer token from this file (its first line).", valueName: "file")) var apiKeyFile: String?
    @Option(help: "Close a connection whose request has not fully arrived after this many seconds.") var readTimeout: Double = 30
    @Option(help: "The model name clients send (default: the --model argument's last path component).") var servedModelName: String?
    @Option(help: "Requests generated together at most.") var maxBatch = 16
    @Option(help: "Requests allowed to wait.") var maxQueue = 64
    @Option(help: "max_tokens when a request gives none.") var defaultMaxTokens = 256
    @Flag(help: "Allow loading LoRA adapters at run time (POST /v1/load_lora_adapter, as vLLM with VLLM_ALLOW_RUNTIME_LORA_UPDATING=True).")
    var enableRuntimeLora = false

    func validate() throws {
        if maxBatch < 1 { throw ValidationError("--max-batch must be at least 1") }
        if maxQueue < 1 { throw ValidationError("--max-queue must be at least 1") }
        if defaultMaxTokens < 1 { throw ValidationError("--default-max-tokens must be at least 1") }
        if !(0...65535).contains(port) { throw ValidationError("--port must be in 0...65535 (0 picks a free one)") }
        if !(readTimeout > 0 && readTimeout.isFinite) { throw ValidationError("--read-timeout must be a positive number of seconds") }
        if apiKey != nil && apiKeyFile != nil { throw ValidationError("give --api-key or --api-key-file, not both") }
    }

    /// The key from --api-key, --api-key-file or SARO_API_KEY, in that order.
    func resolvedKey() throws -> String? {
        if let apiKey { return apiKey }
        if let apiKeyFile {
            guard let text = try? String(contentsOfFile: apiKeyFile, encoding: .utf8) else { throw CommandError("\(apiKeyFile): cannot read the API key file") }
            let key = text.split(whereSeparator: \.isNewline).first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            guard !key.isEmpty else { throw CommandError("\(apiKeyFile): the API key file is empty") }
            return key
        }
        return ProcessInfo.processInfo.environment["SARO_API_KEY"].flatMap { $0.isEmpty ? nil : $0 }
    }

    func run() async throws {
        let key = try resolvedKey()
        if key == nil && !["127.0.0.1", "localhost", "::1"].contains(host) {
            FileHandle.standardError.write(Data("saro: warning: serving on \(host) without an API key: anyone who can reach this address can use the model (set --api-key-file or SARO_API_KEY)\n".utf8))
        }
        let server = try modelOptions.makeServer(chatTemplate: chat.chatTemplate, runtimeAdapters: enableRuntimeLora) { options in
            options.host = host
            options.port = port
            options.apiKey = key
            options.readTimeoutSeconds = readTimeout
            if let name = servedModelName { options.modelID = name }
            options.maxBatch = maxBatch
            options.maxQueue = maxQueue
            options.defaultMaxTokens = defaultMaxTokens
        }
        let (id, address) = (server.options.modelID, host)
        try await server.run { bound in
            FileHandle.standardError.write(Data("saro: serving '\(id)' on http://\(address):\(bound)\n".utf8))
        }
    }
}
