import Support
import Foundation
import Jobs
import Models
import OpenAIClient
import Tokenizers

/// A model served by one or more OpenAI-compatible servers (vLLM, SGLang, llama.cpp's server,
/// TGI, `saro serve`), through the same client the teachers and judges use: bounded
/// concurrency, timeouts and retries per server. Requests are spread over the servers in turn
/// and run concurrently; each carries its own seed, so an answer does not depend on which
/// server made it.
///
/// Servers render the chat template themselves and expose no hidden states. Scoring given
/// text (`assistantNLL`) renders the conversation here with the model's tokenizer and chat
/// template and asks the legacy completions endpoint for the prompt's log-probs (`echo` with
/// `logprobs`, as vLLM gives them); a server that does not give them, or an engine without a
/// tokenizer, reports "not measured" (nil). Token counts come from the server's usage, or from
/// `tokenizer` when one is given (the same model's tokenizer, read locally).
public final class ServerEngine: InferenceEngine, @unchecked Sendable {
    public let endpoints: [ChatEndpoint]
    public let fingerprint: String
    private let clients: [ChatClient]
    private let tokenizer: Tokenizer?

    /// - Parameters:
    ///   - endpoints: the servers; each names the model (or LoRA adapter) as the server knows it.
    ///   - modelKey: what names the served weights by content when they are also on this machine
    ///     (their `FileDigest`), else any stable name; it keys stored answers.
    public init(endpoints: [ChatEndpoint], modelKey: String, tokenizer: Tokenizer? = nil) throws {
        guard !endpoints.isEmpty else { throw ServerEngineError.noServers }
        for e in endpoints where URL(string: e.completionsURL)?.host == nil { throw ChatClientError.badURL(e.baseURL) }
        self.endpoints = endpoints
        self.clients = endpoints.map { ChatClient(endpoint: $0) }
        self.tokenizer = tokenizer
        fingerprint = Self.fingerprint(modelKey: modelKey)
    }

    /// Answers of a server are not the embedded engine's (other kernels, other sampling
    /// streams), so they are stored under their own name.
    public static func fingerprint(modelKey: String) -> String { ContentKey.of("server-engine-v1", modelKey) }

    /// Enough requests to keep every server's slots busy.
    public var batchSize: Int { endpoints.map { max(1, $0.maxConcurrency) }.reduce(0, +) }

    public func complete(_ requests: [CompletionRequest]) async throws -> [Completion] {
        try await withThrowingTaskGroup(of: (Int, Completion).self) { group in
            for (i, r) in requests.enumerated() {
                let client = clients[i % clients.count]
                let parameters = ChatParameters(temperature: Double(r.sampling.temperature), maxTokens: r.maxTokens,
                                                // OpenAI's seed is a signed 64-bit integer: keep the top 63 bits.
                                                seed: Int(truncatingIfNeeded: r.sampling.seed >> 1),
                                                topP: r.sampling.temperature > 0 && r.sampling.topP < 1 ? Double(r.sampling.topP) : nil)
                let messages = r.messages
                group.addTask { [self] in
                    let reply = try await client.complete(messages, parameters: parameters)
                    return (i, Completion(text: reply.content, tokens: try reply.completionTokens ?? countTokens(reply.content) ?? 0))
                }
            }
            var out = [Completion?](repeating: nil, count: requests.count)
            for try await (i, c) in group { out[i] = c }
            return out.map { $0! }
        }
    }

    public func assistantNLL(_ conversations: [[ChatMessage]]) async throws -> [AssistantNLL]? {
        guard let tokenizer else { return nil }
        let template = try ChatTemplate.resolve(name: nil, tokenizer: tokenizer)
        let rendered = try conversations.map { try template.render($0, tokenizer: tokenizer, requireLoss: true) }
        let scored = try await withThrowingTaskGroup(of: (Int, AssistantNLL?).self) { group in
            for (i, r) in rendered.enumerated() {
                let client = clients[i % clients.count]
                group.addTask {
                    // token_logprobs[0] is the first token's (none): the rest are the model's log p(token t | before).
                    guard let logProbs = try await client.promptLogprobs(r.0) else { return (i, nil) }
                    return (i, AssistantNLL(logProbs: Array(logProbs.dropFirst()), mask: r.1))
                }
            }
            var out = [AssistantNLL?](repeating: nil, count: rendered.count)
            for try await (i, nll) in group { out[i] = nll }
            return out
        }
        // Measured for every conversation, or "not measured": never a mean over a part.
        let all = scored.compactMap { $0 }
        return all.count == scored.count ? all : nil
    }

    public func countTokens(_ text: String) throws -> Int? { tokenizer?.encode(text, parseSpecial: false).count }
}

public enum ServerEngineError: Error, CustomStringConvertible {
    case noServers
    public var description: String { "a server engine needs at least one base URL" }
}
