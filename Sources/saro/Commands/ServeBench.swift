import ArgumentParser
import Foundation
import Models
import Serving
import Tokenizers

/// `saro bench serve`: the OpenAI server under concurrent clients.
struct ServeBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Benchmark the OpenAI-compatible server with concurrent clients.",
        discussion: "Starts the server in this process on a free loopback port and sends --clients concurrent streams of --requests chat requests each; prints requests/s, generated tokens/s and p50/p95 latency.")

    @OptionGroup var modelOptions: ModelOptions
    @Flag(help: "Print JSON.") var json = false
    @Option(help: "Concurrent clients.") var clients = 16
    @Option(help: "Requests per client.") var requests = 2
    @Option(help: "max_tokens of each request.") var maxTokens = 64
    @Option(help: "Server batch size.") var maxBatch = 16

    func run() async throws {
        let server = try modelOptions.makeServer(chatTemplate: nil) { options in
            options.port = 0
            options.maxBatch = maxBatch
            options.maxQueue = max(64, clients * 2)
        }
        let r = try await ServeBenchmark.run(server: server, clients: clients, requestsPerClient: requests, maxTokens: maxTokens)
        if json { try printJSON(r, pretty: true); return }
        print(String(format: "%d clients, %d requests (%d failed) in %.1f s: %.2f requests/s, %.1f tokens/s, latency p50 %.2f s, p95 %.2f s, mean batch %.1f",
                     r.clients, r.requests, r.failures, r.seconds, r.requests_per_second, r.tokens_per_second, r.latency_p50_seconds, r.latency_p95_seconds, r.mean_batch))
    }
}
