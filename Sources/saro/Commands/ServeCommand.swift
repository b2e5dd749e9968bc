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
            server-sent events), GET /v1/models, GET /health. Concurrent requests are generated \
            together in batches of up to --max-batch; at most --max-queue wait (more get 429). \
            Binds to loopback unless --host says otherwise; with --api-key every /v1 request \
            needs "Authorization: Bearer KEY". SIGINT or SIGTERM stops accepting and lets running \
            requests finish.
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var chat: ChatOptions
    @Option(help: "Address to bind.") var host = "127.0.0.1"
    @Option(help: "Port (0 picks a free one).") var port = 8000
    @Option(help: "Require this bearer token.") var apiKey: String?
    @Option(help: "The model name clients send (default: the --model argument's last path component).") var servedModelName: String?
    @Option(help: "Requests generated together.") var maxBatch = 16
    @Option(help: "Requests allowed to wait.") var maxQueue = 64
    @Option(help: "max_tokens when a request gives none.") var defaultMaxTokens = 256

    func run() async throws {
        let server = try modelOptions.makeServer(chatTemplate: chat.chatTemplate) { options in
            options.host = host
            options.port = port
            options.apiKey = apiKey ?? ProcessInfo.processInfo.environment["SARO_API_KEY"]
            if let name = servedModelName { options.modelID = name }
            options.maxBatch = maxBatch
            options.maxQueue = maxQueue
            options.defaultMaxTokens = defaultMaxTokens
        }
        FileHandle.standardError.write(Data("saro: serving '\(server.options.modelID)' on http://\(host):\(port)\n".utf8))
        try await server.run()
    }
}
