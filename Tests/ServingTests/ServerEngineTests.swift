import Foundation
import Inference
import Models
import OpenAIClient
import ScriptedOpenAIServer
import Serving
import Support
import Testing
import Tokenizers

/// The inference seam: the same requests through saro's own engine and through an
/// OpenAI-compatible server (`saro serve`'s server running the same weights).
@Suite(.serialized) struct ServerEngineTests {
    static func endpoint(_ base: URL, model: String = "tiny", concurrency: Int = 1) -> ChatEndpoint {
        ChatEndpoint(baseURL: base.absoluteString, model: model, apiKeyEnv: nil, maxConcurrency: concurrency, timeoutSeconds: 300, maxRetries: 0)
    }

    static let requests: [CompletionRequest] = ["Hello there", "What is 2 + 2?", "Name a colour.", "Tell me a story about a cat", "Why?"].map {
        CompletionRequest(messages: [.user($0)], maxTokens: 12)
    }

    @Test func greedyAnswersMatchTheEmbeddedEngine() async throws {
        let (model, tokenizer) = try ServerTests.tinyModel()
        let server = try ServerTests.tinyServer()
        // One row at a time on both sides: the same arithmetic, so the same argmax at every step.
        let embedded = EmbeddedEngine(model: model, tokenizer: tokenizer, template: ChatTemplate(format: .chatml), fingerprint: "tiny")
        embedded.batchSize = 1
        let local = try await embedded.complete(Self.requests)
        try await ServerTests.withRunningServer(server) { base in
            let remote = try ServerEngine(endpoints: [Self.endpoint(base.appendingPathComponent("v1"))], modelKey: "tiny", tokenizer: tokenizer)
            let answers = try await remote.complete(Self.requests)
            #expect(answers.map(\.text) == local.map(\.text))
            #expect(answers.map(\.tokens) == local.map(\.tokens))
            #expect(try remote.countTokens("Hello there") == tokenizer.encode("Hello there", parseSpecial: false).count)
            // Reference NLL through the echoed prompt's log-probs: the embedded engine's numbers.
            let conversations: [[ChatMessage]] = [[.user("What is 2 + 2?"), .assistant("4, as two and two make four.")],
                                                  [.user("Hi"), .assistant("Hello!"), .user("Bye"), .assistant("Goodbye.")]]
            let served = try #require(try await remote.assistantNLL(conversations))
            let own = try #require(try await embedded.assistantNLL(conversations))
            #expect(served.map(\.tokens) == own.map(\.tokens) && own.allSatisfy { $0.tokens > 0 })
            for (a, b) in zip(served, own) { #expect(abs(a.sum - b.sum) <= 1e-9 * max(1, abs(b.sum)), "\(a.sum) vs \(b.sum)") }
            #expect(remote.fingerprint != embedded.fingerprint)
        }
    }

    @Test func requestsSpreadOverServersWithTheirOwnSeeds() async throws {
        let echo: @Sendable (Int, [String: Any]) -> ScriptedOpenAIServer.Reply = { _, body in .chat("re: " + ScriptedOpenAIServer.userText(body)) }
        let a = ScriptedOpenAIServer(respond: echo), b = ScriptedOpenAIServer(respond: echo)
        let sampled = (0..<6).map { CompletionRequest(messages: [.user("q\($0)")], maxTokens: 7, sampling: SamplingParameters(temperature: 0.8, topP: 0.9, seed: UInt64($0) << 40)) }
        try await a.run { baseA in
            try await b.run { baseB in
                let engine = try ServerEngine(endpoints: [Self.endpoint(baseA, model: "m-a"), Self.endpoint(baseB, model: "m-b")], modelKey: "m")
                #expect(engine.batchSize == 2)
                let answers = try await engine.complete(sampled)
                #expect(answers.map(\.text) == (0..<6).map { "re: q\($0)" })
                #expect(a.requestCount == 3 && b.requestCount == 3)
                for r in a.requests + b.requests {
                    let i = Int((ScriptedOpenAIServer.userText(r)).dropFirst())!
                    #expect(r["seed"] as? Int == Int(UInt64(i) << 39) && r["max_tokens"] as? Int == 7)
                    #expect(abs((r["top_p"] as? Double ?? 0) - 0.9) < 1e-6 && abs((r["temperature"] as? Double ?? 0) - 0.8) < 1e-6)
                }
                #expect(Set(a.requests.map { $0["model"] as? String }) == ["m-a"] && Set(b.requests.map { $0["model"] as? String }) == ["m-b"])
            }
        }
        #expect(throws: ServerEngineError.self) { try ServerEngine(endpoints: [], modelKey: "m") }
    }

    /// A server without the legacy completions endpoint (or without prompt log-probs) leaves
    /// reference NLL "not measured" rather than failing the evaluation.
    @Test func serverWithoutPromptLogprobsIsNotMeasured() async throws {
        let (_, tokenizer) = try ServerTests.tinyModel()
        let chatOnly = ScriptedOpenAIServer { _, _ in .chat("ok") }
        try await chatOnly.run { base in
            let engine = try ServerEngine(endpoints: [Self.endpoint(base)], modelKey: "m", tokenizer: tokenizer)
            #expect(try await engine.assistantNLL([[.user("a"), .assistant("b")]]) == nil)
        }
    }
}
