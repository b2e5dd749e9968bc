import Foundation
import Inference
import Models
import OpenAIClient
import ScriptedOpenAIServer
import Serving
import Support
import Tensor
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

    /// A LoRA adapter with random (non-zero) B matrices for the tiny model, saved as a PEFT folder.
    static func randomAdapter(for model: LlamaModel, in dir: URL) throws -> LoRAAdapters {
        let adapters = try LoRAAdapters(config: LoRAConfig(rank: 4, alpha: 8, dropout: 0), model: model, seed: 3)
        var rng = SplitMix64(seed: 11)
        for (_, p) in adapters.parameters.sorted(by: { $0.key < $1.key }) {
            p.value.copyElements(from: Tensor.uniform(p.value.shape, low: -0.5, high: 0.5, rng: &rng))
        }
        try adapters.save(to: dir, baseModel: "tiny")
        return adapters
    }

    /// A server the user runs: saro checks it serves the base, loads a stage's adapter under the
    /// stage's name the way vLLM does at run time, gets the embedded engine's answers for base
    /// plus adapter, and unloads it when the stage ends.
    @Test func attachedServerLoadsAndUnloadsAStagesAdapter() async throws {
        let (model, tokenizer) = try ServerTests.tinyModel()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("saro-attached-\(getpid())")
        try? FileManager.default.removeItem(at: dir)
        let adapters = try Self.randomAdapter(for: model, in: dir)
        let (baseModel, _) = try ServerTests.tinyModel()
        let embedded = EmbeddedEngine(model: baseModel, tokenizer: tokenizer, template: ChatTemplate(format: .chatml), fingerprint: "tiny")
        embedded.batchSize = 1
        let baseAnswers = try await embedded.complete(Self.requests)
        baseModel.lora = adapters
        let adapted = try await embedded.complete(Self.requests)
        #expect(adapted.map(\.text) != baseAnswers.map(\.text), "the adapter changes the answers")

        let server = try ServerTests.tinyServer(adapterLoader: { path in
            let (m, _) = try ServerTests.tinyModel()
            let a = try LoRAAdapters(config: try LoRAAdapters.readConfig(URL(fileURLWithPath: path)), model: m, seed: 0)
            try a.load(from: URL(fileURLWithPath: path))
            m.lora = a
            return m
        })
        try await ServerTests.withRunningServer(server) { base in
            let v1 = base.appendingPathComponent("v1").absoluteString
            let client = ChatClient(endpoint: Self.endpoint(URL(string: v1)!))
            let attached = try await AttachedServer.attach(endpoint: Self.endpoint(URL(string: v1)!), base: "tiny", adapter: (name: "saro-eval", path: dir.path))
            #expect(try await client.servedModels() == ["tiny", "saro-eval"])
            let engine = try ServerEngine(endpoints: [Self.endpoint(URL(string: v1)!, model: "saro-eval")], modelKey: "tiny+adapter", tokenizer: tokenizer)
            #expect(try await engine.complete(Self.requests).map(\.text) == adapted.map(\.text))
            // A killed run left it loaded: attaching again replaces it.
            let again = try await AttachedServer.attach(endpoint: Self.endpoint(URL(string: v1)!), base: "tiny", adapter: (name: "saro-eval", path: dir.path))
            await again.stop()
            await attached.stop()
            #expect(try await client.servedModels() == ["tiny"])
            #expect(try await ServerEngine(endpoints: [Self.endpoint(URL(string: v1)!)], modelKey: "tiny").complete(Self.requests).map(\.text) == baseAnswers.map(\.text))

            await #expect { try await AttachedServer.attach(endpoint: Self.endpoint(URL(string: v1)!), base: "llama", adapter: nil) } throws: { error in
                "\(error)".contains("serves 'tiny', not 'llama'")
            }
            await #expect { try await AttachedServer.attach(endpoint: Self.endpoint(URL(string: v1)!), base: "tiny", adapter: (name: "x", path: "/nonexistent")) } throws: { error in
                "\(error)".contains("did not load the adapter /nonexistent") && "\(error)".contains("adapter_config.json")
            }
        }
        // A server without run-time adapters, and no server at all.
        try await ServerTests.withRunningServer(try ServerTests.tinyServer()) { base in
            await #expect { try await AttachedServer.attach(endpoint: Self.endpoint(base.appendingPathComponent("v1")), base: "tiny", adapter: (name: "x", path: dir.path)) } throws: { error in
                "\(error)".contains("HTTP 404") && "\(error)".contains("VLLM_ALLOW_RUNTIME_LORA_UPDATING")
            }
        }
        await #expect { try await AttachedServer.attach(endpoint: Self.endpoint(URL(string: "http://127.0.0.1:9/v1")!), base: "tiny", adapter: nil) } throws: { error in
            "\(error)".contains("no server answers at http://127.0.0.1:9/v1")
        }
        try? FileManager.default.removeItem(at: dir)
    }
}
