import Support
import Foundation
import Testing
import OpenAIClient
import ScriptedOpenAIServer
import SaRO
@testable import Models
@testable import Serving
@testable import Tokenizers

/// The teacher/judge client against real HTTP servers: a scripted one that fails on purpose,
/// and saro's own OpenAI server.
@Suite(.serialized) struct ChatClientTests {
    /// A generous default timeout: these tests are about replies, and a loaded 2-core machine
    /// (the suite's other tests training and generating beside them) can take seconds to
    /// schedule the scripted server; the timeout test sets its own.
    static func endpoint(_ url: URL, retries: Int = 3, timeout: Double = 60, concurrency: Int = 4) -> ChatEndpoint {
        ChatEndpoint(baseURL: url.absoluteString, model: "m", apiKeyEnv: nil, maxConcurrency: concurrency, timeoutSeconds: timeout,
                     maxRetries: retries, backoffSeconds: 0.01)
    }

    @Test func parsesAReplyAndSendsTheRequestFields() async throws {
        let server = ScriptedOpenAIServer { _, _ in .chat("hello there") }
        try await server.run { url in
            let client = ChatClient(endpoint: Self.endpoint(url))
            let reply = try await client.complete([ChatMessage(role: "user", content: "hi")], parameters: ChatParameters(temperature: 0, maxTokens: 7, seed: 3))
            #expect(reply.content == "hello there")
            #expect(reply.finishReason == "stop" && reply.completionTokens == 1)
            let body = server.requests[0]
            #expect(body["model"] as? String == "m" && body["max_tokens"] as? Int == 7 && body["seed"] as? Int == 3)
            #expect(ScriptedOpenAIServer.userText(body) == "hi")
        }
    }

    @Test func retriesServerErrorsAndRateLimitsThenSucceeds() async throws {
        let server = ScriptedOpenAIServer { i, _ in
            switch i {
            case 0: return .init(status: 500, body: "boom")
            case 1: return .init(status: 429, body: "slow down", headers: ["Retry-After": "0"])
            case 2: return .init(status: 503, body: "unavailable")
            default: return .chat("finally")
            }
        }
        try await server.run { url in
            let client = ChatClient(endpoint: Self.endpoint(url))
            let reply = try await client.complete([ChatMessage(role: "user", content: "x")])
            #expect(reply.content == "finally")
            #expect(server.requestCount == 4)
            #expect(await client.retries == 3)
        }
    }

    @Test func givesUpAfterTheRetryBudgetNamingStatusAndAttempts() async throws {
        let server = ScriptedOpenAIServer { _, _ in .init(status: 502, body: "bad gateway") }
        try await server.run { url in
            let client = ChatClient(endpoint: Self.endpoint(url, retries: 2))
            do { _ = try await client.complete([ChatMessage(role: "user", content: "x")]); Issue.record("expected an error") } catch {
                #expect("\(error)".contains("HTTP 502 after 3 attempt(s)"), "\(error)")
            }
            #expect(server.requestCount == 3)
        }
    }

    @Test func malformedJSONIsRetriedThenReported() async throws {
        let server = ScriptedOpenAIServer { i, _ in i < 2 ? .init(body: "{\"choices\": [") : .init(body: "{\"choices\": []}") }
        try await server.run { url in
            let client = ChatClient(endpoint: Self.endpoint(url, retries: 2))
            do { _ = try await client.complete([ChatMessage(role: "user", content: "x")]); Issue.record("expected an error") } catch {
                #expect("\(error)".contains("unreadable reply after 3 attempt(s)"), "\(error)")
                #expect("\(error)".contains("no choices[0].message"), "\(error)")
            }
        }
    }

    @Test func timeoutsAreRetried() async throws {
        let server = ScriptedOpenAIServer { i, _ in i == 0 ? .chat("late", delay: 3) : .chat("on time") }
        try await server.run { url in
            let client = ChatClient(endpoint: Self.endpoint(url, timeout: 1))
            let reply = try await client.complete([ChatMessage(role: "user", content: "x")])
            #expect(reply.content == "on time")
            // At least the late request and one retry; on a loaded machine (CI beside a
            // training run) the prompt reply may also miss the timeout once and be retried.
            #expect(server.requestCount >= 2)
        }
    }

    @Test func clientErrorsAreNotRetried() async throws {
        let server = ScriptedOpenAIServer { _, _ in .init(status: 401, body: "{\"error\": {\"message\": \"bad key\"}}") }
        try await server.run { url in
            let client = ChatClient(endpoint: Self.endpoint(url))
            do { _ = try await client.complete([ChatMessage(role: "user", content: "x")]); Issue.record("expected an error") } catch {
                #expect("\(error)".contains("HTTP 401 (not retried)") && "\(error)".contains("bad key"), "\(error)")
            }
            #expect(server.requestCount == 1)
        }
    }

    @Test func concurrencyIsBounded() async throws {
        let server = ScriptedOpenAIServer { _, _ in .chat("ok", delay: 0.05) }
        try await server.run { url in
            let client = ChatClient(endpoint: Self.endpoint(url, concurrency: 2))
            try await withThrowingTaskGroup(of: String.self) { group in
                for i in 0..<8 { group.addTask { try await client.complete([ChatMessage(role: "user", content: "\(i)")]).content } }
                for try await r in group { #expect(r == "ok") }
            }
            #expect(server.requestCount == 8)
            #expect(server.maxInFlight == 2)
        }
    }

    @Test func rateLimitSpacesRequestStarts() async throws {
        let server = ScriptedOpenAIServer { _, _ in .chat("ok") }
        try await server.run { url in
            var e = Self.endpoint(url)
            e.requestsPerMinute = 600   // one every 0.1 s
            let client = ChatClient(endpoint: e)
            let start = Date()
            for _ in 0..<4 { _ = try await client.complete([ChatMessage(role: "user", content: "x")]) }
            // Three gaps of at least 0.1 s: a lower bound on behaviour, not a speed assertion.
            #expect(Date().timeIntervalSince(start) >= 0.3)
        }
    }

    /// saro's own server speaks the API the teacher client expects.
    @Test func talksToSarosOwnServer() async throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("ModelsTests/Golden/tokenizers/gpt2/tokenizer.json")
        let tokenizer = try Tokenizer(tokenizerJSON: url)
        let config = LlamaConfig(vocabSize: tokenizer.vocabularySize, hiddenSize: 32, intermediateSize: 64, numHiddenLayers: 2,
                                 numAttentionHeads: 4, numKeyValueHeads: 2, maxPositionEmbeddings: 4096, tieWordEmbeddings: true)
        let model = try LlamaModel(config: config, weights: LlamaModel.initialWeights(config: config, seed: 9, std: 0.2))
        var options = OpenAIServer.Options()
        options.port = 0
        options.modelID = "tiny"
        let server = OpenAIServer(model: model, tokenizer: tokenizer, template: ChatTemplate(format: .chatml), options: options)
        let ports = AsyncStream<Int>.makeStream()
        let app = server.application { ports.continuation.yield($0) }
        try await GracefulServing.run(app, ports: ports.stream) { port in
            let client = ChatClient(endpoint: ChatEndpoint(baseURL: "http://127.0.0.1:\(port)/v1", model: "tiny", apiKeyEnv: nil))
            let params = ChatParameters(temperature: 0, maxTokens: 12)
            let a = try await client.complete([ChatMessage(role: "system", content: "Be brief."), ChatMessage(role: "user", content: "Say something.")], parameters: params)
            let b = try await client.complete([ChatMessage(role: "system", content: "Be brief."), ChatMessage(role: "user", content: "Say something.")], parameters: params)
            #expect(a.completionTokens == 12 && a.finishReason == "length")
            #expect(!a.content.isEmpty && a.content == b.content)   // greedy: the same text twice

            // The data pipeline's endpoint teacher, with its prompt files and the policy, served by saro.
            let policy = try SafetyPolicy.builtIn()
            let teacher = EndpointTeacher(client: client, prompts: try TeacherPrompts.load(directory: nil), policy: policy,
                                          templates: TemplateLibrary(templates: []), parameters: ChatParameters(temperature: 0, maxTokens: 8))
            let seed = Seed(id: "t:0", text: "How do I bake bread?", kind: .benign, category: "everyday", source: "t")
            let box = Box()
            try await teacher.write([.reasoning(Query(seed: seed)), .direct(Query(seed: seed))]) { i, text in box.add(i, text) }
            #expect(box.items.count == 2 && box.items.allSatisfy { !$0.1.isEmpty })
        }
    }

    final class Box: @unchecked Sendable {
        let lock = NSLock()
        var items: [(Int, String)] = []
        func add(_ i: Int, _ s: String) { lock.lock(); items.append((i, s)); lock.unlock() }
    }
}
