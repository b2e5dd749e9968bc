import Support
import Foundation
import Hummingbird
import HummingbirdCore
import NIOCore
import Models
import Tokenizers

/// An OpenAI-compatible HTTP server for a saro model (Hummingbird):
/// POST /v1/chat/completions, POST /v1/completions (both with server-sent-event streaming),
/// GET /v1/models, GET /health. Requests are generated in batches by a `BatchScheduler`.
///
/// With an adapter loader, LoRA adapters are loaded and unloaded at run time the way vLLM does
/// (`POST /v1/load_lora_adapter` with `lora_name` and `lora_path`, `POST /v1/unload_lora_adapter`);
/// requests name an adapter as their model, and each adapter has a scheduler of its own.
public final class OpenAIServer: @unchecked Sendable {
    public struct Options: Sendable {
        public var host = "127.0.0.1"
        public var port = 8000
        /// When set, every /v1 request needs `Authorization: Bearer <key>`.
        public var apiKey: String?
        public var modelID = "saro"
        public var maxBatch = 16
        public var maxQueue = 64
        public var maxBodyBytes = 1 << 20
        public var defaultMaxTokens = 256
        /// A connection whose request is not fully received after this long is closed, as is
        /// an idle one (a request being generated is never cut).
        public var readTimeoutSeconds: Double = 30
        public init() {}
    }

    public let options: Options
    let tokenizer: Tokenizer
    let template: ChatTemplate
    /// The template's end-of-turn and end-of-sequence tokens (found by rendering: once).
    let stopTokens: Set<Int>
    let contextLength: Int
    /// The base model's scheduler.
    public let scheduler: BatchScheduler
    let adapterLoader: (@Sendable (String) throws -> LlamaModel)?
    /// Adapters loaded at run time: each one's scheduler, by name.
    private var adapters: [String: BatchScheduler] = [:]
    private let adaptersLock = NSLock()

    /// - Parameter adapterLoader: makes the model with the LoRA adapter folder it is given
    ///   applied; nil: no run-time adapter routes (as vLLM without VLLM_ALLOW_RUNTIME_LORA_UPDATING).
    public init(model: LlamaModel, tokenizer: Tokenizer, template: ChatTemplate, options: Options,
                adapterLoader: (@Sendable (String) throws -> LlamaModel)? = nil) {
        self.options = options
        self.tokenizer = tokenizer
        self.template = template
        stopTokens = template.stopTokenIds(tokenizer: tokenizer)
        self.adapterLoader = adapterLoader
        contextLength = model.config.maxPositionEmbeddings
        scheduler = Self.makeScheduler(model, tokenizer: tokenizer, options: options)
    }

    static func makeScheduler(_ model: LlamaModel, tokenizer: Tokenizer, options: Options) -> BatchScheduler {
        BatchScheduler(generator: Generator(model: model, tokenizer: tokenizer), maxBatch: options.maxBatch, maxQueue: options.maxQueue)
    }

    /// The Hummingbird application; `onRunning(port)` reports the bound port (useful with port 0).
    public func application(onRunning: @escaping @Sendable (Int) -> Void = { _ in }) -> some ApplicationProtocol {
        let router = Router()
        router.add(middleware: OpenAIErrorMiddleware())
        router.get("/health") { _, _ in "ok" }
        let v1 = router.group("v1")
        if let key = options.apiKey { v1.add(middleware: BearerAuthMiddleware(key: key)) }
        v1.get("models") { [self] _, _ in
            let created = Int(Date().timeIntervalSince1970)
            let loaded = loadedAdapters()
            return try json(OpenAI.ModelList(data: [OpenAI.Model(id: options.modelID, created: created)]
                                                + loaded.map { OpenAI.Model(id: $0, created: created, parent: options.modelID) }))
        }
        v1.post("chat/completions") { [self] request, _ in try await chat(request) }
        v1.post("completions") { [self] request, _ in try await completion(request) }
        if adapterLoader != nil {
            v1.post("load_lora_adapter") { [self] request, _ in try await loadAdapter(request) }
            v1.post("unload_lora_adapter") { [self] request, _ in try await unloadAdapter(request) }
        }
        let http1 = HTTP1Channel.Configuration(idleTimeout: TimeAmount.milliseconds(Int64(options.readTimeoutSeconds * 1000)))
        return Application(router: router, server: .http1(configuration: http1),
                           configuration: .init(address: .hostname(options.host, port: options.port), serverName: "saro"),
                           onServerRunning: { channel in onRunning(channel.localAddress?.port ?? 0) })
    }

    /// Serves until SIGINT or SIGTERM, then lets running requests finish.
    /// `onRunning(port)` reports the port bound (the one asked for, or the free one port 0 found).
    public func run(onRunning: @escaping @Sendable (Int) -> Void = { _ in }) async throws {
        try await application(onRunning: onRunning).runService()
        scheduler.shutdown()
        for adapter in adaptersLock.withLock({ Array(adapters.values) }) { adapter.shutdown() }
    }

    // MARK: handlers

    func decode<T: Decodable>(_ type: T.Type, _ request: Request) async throws -> T {
        let body: ByteBuffer
        do { body = try await request.body.collect(upTo: options.maxBodyBytes) } catch is NIOTooManyBytesError {
            throw OpenAI.APIError(status: 413, message: "request body is larger than \(options.maxBodyBytes) bytes", type: "invalid_request_error")
        } catch {
            throw OpenAI.APIError.invalid("the request body ended before it was complete (\(error))")
        }
        do { return try JSONDecoder().decode(T.self, from: Data(buffer: body)) } catch let e as DecodingError {
            if let field = Self.numberOutOfRange(Data(buffer: body)) {
                throw OpenAI.APIError.invalid("malformed request: field '\(field.key)': \(field.value) is not a whole number that fits", param: field.key)
            }
            throw OpenAI.APIError.invalid("malformed request: \(DecodingErrorText.describe(e))")
        } catch {
            throw OpenAI.APIError.invalid("malformed request: \(error)")
        }
    }

    /// Foundation's decoder reports an integer field holding 1e20 or 2.5 as "not valid JSON"
    /// at the root; when the body is valid JSON, this names the top-level field that cannot be
    /// an integer (every numeric field of a request that is not a float: max_tokens, n, seed, top_k).
    static func numberOutOfRange(_ body: Data) -> (key: String, value: String)? {
        guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else { return nil }
        let integerFields: Set<String> = ["max_tokens", "max_completion_tokens", "n", "seed", "top_k"]
        for (key, value) in object.sorted(by: { $0.key < $1.key }) where integerFields.contains(key) {
            guard let n = value as? NSNumber, !(n is Bool) else { continue }
            let d = n.doubleValue
            if d != d.rounded() || abs(d) >= 9.2e18 { return (key, "\(n)") }
        }
        return nil
    }

    /// The scheduler of the model a request names: the base (also when it names none) or a loaded adapter.
    func scheduler(for name: String?) throws -> BatchScheduler {
        guard let name, name != options.modelID else { return scheduler }
        if let adapter = adaptersLock.withLock({ adapters[name] }) { return adapter }
        throw OpenAI.APIError(status: 404, message: "model '\(name)' does not exist; this server serves '\(options.modelID)'" + loadedAdapters().map { ", '\($0)'" }.joined(),
                              type: "invalid_request_error", param: "model", code: "model_not_found")
    }

    func loadedAdapters() -> [String] { adaptersLock.withLock { adapters.keys.sorted() } }

    /// Loads `lora_path` under `lora_name`. The folder is read before the name is taken, so a
    /// bad adapter leaves the server as it was; the name is checked before the (slow) read and
    /// taken after it, when another request may have taken it meanwhile.
    func loadAdapter(_ request: Request) async throws -> Response {
        let body = try await decode(OpenAI.LoRAAdapterRequest.self, request)
        guard let path = body.lora_path, !path.isEmpty else { throw OpenAI.APIError.invalid("lora_path is required", param: "lora_path") }
        guard !body.lora_name.isEmpty, body.lora_name != options.modelID else {
            throw OpenAI.APIError.invalid("lora_name must be a name other than the base model's ('\(options.modelID)')", param: "lora_name")
        }
        let taken = OpenAI.APIError.invalid("an adapter named '\(body.lora_name)' is loaded already: unload it first", param: "lora_name")
        if adaptersLock.withLock({ adapters[body.lora_name] != nil }) { throw taken }
        let model: LlamaModel
        do { model = try adapterLoader!(path) } catch {
            throw OpenAI.APIError.invalid("cannot load the adapter at \(path): \(error)", param: "lora_path")
        }
        let scheduler = Self.makeScheduler(model, tokenizer: tokenizer, options: options)
        let added = adaptersLock.withLock { () -> Bool in
            guard adapters[body.lora_name] == nil else { return false }
            adapters[body.lora_name] = scheduler
            return true
        }
        guard added else {
            await Self.drain(scheduler)
            throw taken
        }
        return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "Success: LoRA adapter '\(body.lora_name)' added successfully.")))
    }

    /// Unloads `lora_name` once the requests it is running have finished.
    func unloadAdapter(_ request: Request) async throws -> Response {
        let body = try await decode(OpenAI.LoRAAdapterRequest.self, request)
        guard let removed = adaptersLock.withLock({ adapters.removeValue(forKey: body.lora_name) }) else {
            throw OpenAI.APIError(status: 404, message: "no adapter named '\(body.lora_name)' is loaded", type: "not_found_error", param: "lora_name")
        }
        await Self.drain(removed)
        return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "Success: LoRA adapter '\(body.lora_name)' removed successfully.")))
    }

    /// Stops a scheduler after its queued and running requests, off the server's threads.
    static func drain(_ scheduler: BatchScheduler) async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async { scheduler.shutdown(); c.resume() }
        }
    }

    /// Per-choice generation options from the request's sampling fields.
    func generationOptions(maxTokens: Int?, temperature: Double?, topP: Double?, topK: Int?, seed: UInt64?, stop: OpenAI.Stop?, promptTokens: Int, choice: Int) throws -> GenerationOptions {
        let max = maxTokens ?? options.defaultMaxTokens
        guard max >= 1 else { throw OpenAI.APIError.invalid("max_tokens must be at least 1", param: "max_tokens") }
        if let t = temperature, !(0...2).contains(t) { throw OpenAI.APIError.invalid("temperature must be between 0 and 2", param: "temperature") }
        if let p = topP, !(0...1).contains(p) || p == 0 { throw OpenAI.APIError.invalid("top_p must be in (0, 1]", param: "top_p") }
        if let k = topK, k < -1 { throw OpenAI.APIError.invalid("top_k must be -1 (all tokens), 0 (all) or a positive count", param: "top_k") }
        guard promptTokens + max <= contextLength else {
            throw OpenAI.APIError(status: 400, message: "the prompt (\(promptTokens) tokens) plus max_tokens (\(max)) exceeds the context of \(contextLength) tokens",
                                  type: "invalid_request_error", param: "messages", code: "context_length_exceeded")
        }
        let sampling = SamplingParameters(temperature: Float(temperature ?? 1), topK: Swift.max(0, topK ?? 0), topP: Float(topP ?? 1), seed: (seed ?? UInt64.random(in: 0...UInt64.max)) &+ UInt64(choice))
        return GenerationOptions(maxNewTokens: max, sampling: sampling, stopTokens: stopTokens, stopStrings: stop?.strings ?? [])
    }

    func chat(_ request: Request) async throws -> Response {
        let body = try await decode(OpenAI.ChatRequest.self, request)
        let model = try scheduler(for: body.model)
        let modelName = body.model ?? options.modelID
        guard !body.messages.isEmpty else { throw OpenAI.APIError.invalid("messages must not be empty", param: "messages") }
        let prompt: [Int]
        do { prompt = try template.render(body.messages, tokenizer: tokenizer, addGenerationPrompt: true).ids } catch {
            throw OpenAI.APIError.invalid("\(error)", param: "messages")
        }
        let n = try choices(body.n)
        let opts = try (0..<n).map { try generationOptions(maxTokens: body.max_completion_tokens ?? body.max_tokens, temperature: body.temperature, topP: body.top_p, topK: body.top_k,
                                                            seed: body.seed, stop: body.stop, promptTokens: prompt.count, choice: $0) }
        let id = "chatcmpl-" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        let created = Int(Date().timeIntervalSince1970)
        if body.stream == true {
            return try stream(prompt: prompt, options: opts, on: model) { index, delta, finish, first in
                OpenAI.ChatChunk(id: id, created: created, model: modelName,
                                 choices: [.init(index: index, delta: .init(role: first ? "assistant" : nil, content: delta), finish_reason: finish)])
            }
        }
        let results = try await generateAll(prompt: prompt, options: opts, on: model)
        let completion = results.map(\.tokens.count).reduce(0, +)
        return try json(OpenAI.ChatResponse(
            id: id, created: created, model: modelName,
            choices: results.enumerated().map { .init(index: $0.offset, message: .assistant($0.element.text), finish_reason: $0.element.finishReason.rawValue) },
            usage: .init(prompt_tokens: prompt.count, completion_tokens: completion, total_tokens: prompt.count + completion)))
    }

    func completion(_ request: Request) async throws -> Response {
        let body = try await decode(OpenAI.CompletionRequest.self, request)
        let model = try scheduler(for: body.model)
        let modelName = body.model ?? options.modelID
        let prompt: [Int]
        switch body.prompt {
        case .text(let text): prompt = tokenizer.encode(text, addSpecialTokens: true)
        case .tokens(let ids):
            if let bad = ids.first(where: { $0 < 0 || $0 >= tokenizer.vocabularySize }) {
                throw OpenAI.APIError.invalid("prompt token \(bad) is outside the vocabulary (0..<\(tokenizer.vocabularySize))", param: "prompt")
            }
            prompt = ids
        }
        guard !prompt.isEmpty else { throw OpenAI.APIError.invalid("prompt must not be empty", param: "prompt") }
        if let k = body.logprobs, k != 0 {
            throw OpenAI.APIError.invalid("logprobs: only 0 is supported (the chosen tokens' log-probabilities, no alternatives)", param: "logprobs")
        }
        let n = try choices(body.n)
        let opts = try (0..<n).map { try generationOptions(maxTokens: body.max_tokens ?? 16, temperature: body.temperature, topP: body.top_p, topK: body.top_k,
                                                            seed: body.seed, stop: body.stop, promptTokens: prompt.count, choice: $0) }
        let id = "cmpl-" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        let created = Int(Date().timeIntervalSince1970)
        if body.stream == true {
            if body.echo == true || body.logprobs != nil {
                throw OpenAI.APIError.invalid("echo and logprobs are not supported with stream", param: "stream")
            }
            return try stream(prompt: prompt, options: opts, on: model) { index, delta, finish, _ in
                OpenAI.CompletionResponse(id: id, created: created, model: modelName, choices: [.init(index: index, text: delta ?? "", finish_reason: finish)])
            }
        }
        let results = try await generateAll(prompt: prompt, options: opts, on: model)
        let echo = body.echo == true
        var out: [OpenAI.CompletionChoice] = []
        for (i, r) in results.enumerated() {
            let shown = echo ? prompt + r.tokens : r.tokens
            var choice = OpenAI.CompletionChoice(index: i, text: (echo ? tokenizer.decode(prompt) : "") + r.text, finish_reason: r.finishReason.rawValue)
            if body.logprobs != nil { choice.logprobs = try await logprobs(of: shown, after: echo ? [] : prompt, on: model) }
            out.append(choice)
        }
        let completion = results.map(\.tokens.count).reduce(0, +)
        return try json(OpenAI.CompletionResponse(
            id: id, created: created, model: modelName, choices: out,
            usage: .init(prompt_tokens: prompt.count, completion_tokens: completion, total_tokens: prompt.count + completion)))
    }

    /// The log-probability of each of `tokens` given `context` and the tokens before it: one
    /// scoring pass on the scheduler's thread. A first token with no context has none.
    func logprobs(of tokens: [Int], after context: [Int], on scheduler: BatchScheduler) async throws -> OpenAI.Logprobs {
        let all = context + tokens
        let scored: [Double]
        do { scored = try await scheduler.perform { $0.model.tokenLogProbs(all) } } catch { throw apiError(error) }
        // scored[t - 1] is token t's; token 0 has none.
        let values: [Double?] = (context.count..<all.count).map { $0 == 0 ? nil : scored[$0 - 1] }
        var pieces: [String] = [], offsets: [Int] = [], offset = 0
        for t in tokens {
            let piece = tokenizer.decode([t])
            pieces.append(piece); offsets.append(offset); offset += piece.count
        }
        return OpenAI.Logprobs(tokens: pieces, token_logprobs: values, top_logprobs: nil, text_offset: offsets)
    }

    func choices(_ n: Int?) throws -> Int {
        let n = n ?? 1
        guard (1...8).contains(n) else { throw OpenAI.APIError.invalid("n must be between 1 and 8", param: "n") }
        return n
    }

    func submit(_ job: BatchScheduler.Job, to scheduler: BatchScheduler) throws {
        do { try scheduler.submit(job) } catch { throw apiError(error) }
    }

    /// The scheduler's refusal as an HTTP answer: a full queue is 429 (retry later), a
    /// scheduler that is stopping 503.
    func apiError(_ error: Error) -> OpenAI.APIError {
        if case BatchScheduler.SubmitError.queueFull? = error as? BatchScheduler.SubmitError {
            return OpenAI.APIError(status: 429, message: "the server's queue is full (\(options.maxQueue) requests); retry later", type: "rate_limit_error")
        }
        return OpenAI.APIError(status: 503, message: "the server is shutting down", type: "server_error")
    }

    /// Generates every choice and waits for all of them.
    func generateAll(prompt: [Int], options opts: [GenerationOptions], on scheduler: BatchScheduler) async throws -> [GenerationResult] {
        let cancellations = opts.map { _ in BatchScheduler.Cancellation() }
        return try await withTaskCancellationHandler {
            try await withThrowingTaskGroup(of: (Int, GenerationResult).self) { group in
                for (i, o) in opts.enumerated() {
                    let job = BatchScheduler.Job(request: .init(prompt: prompt, options: o), cancellation: cancellations[i], onFinish: { _ in })
                    group.addTask {
                        try await withCheckedThrowingContinuation { (c: CheckedContinuation<(Int, GenerationResult), Error>) in
                            var j = job
                            j.onFinish = { c.resume(returning: (i, $0)) }
                            do { try self.submit(j, to: scheduler) } catch { c.resume(throwing: error) }
                        }
                    }
                }
                var out = [GenerationResult?](repeating: nil, count: opts.count)
                for try await (i, r) in group { out[i] = r }
                return out.map { $0! }
            }
        } onCancel: {
            cancellations.forEach { $0.cancel() }
        }
    }

    enum StreamEvent: Sendable { case delta(Int, String), finished(Int, GenerationResult) }

    /// A server-sent-event response: one JSON chunk per text delta and a final chunk with the
    /// finish reason per choice, then `data: [DONE]`. A client that disconnects cancels its rows.
    func stream<Chunk: Encodable & Sendable>(prompt: [Int], options opts: [GenerationOptions], on scheduler: BatchScheduler,
                                             chunk: @escaping @Sendable (Int, String?, String?, Bool) -> Chunk) throws -> Response {
        let (events, continuation) = AsyncStream<StreamEvent>.makeStream()
        let cancellations = opts.map { _ in BatchScheduler.Cancellation() }
        let remaining = Counter(opts.count)
        for (i, o) in opts.enumerated() {
            try submit(BatchScheduler.Job(request: .init(prompt: prompt, options: o), cancellation: cancellations[i],
                                          onDelta: { continuation.yield(.delta(i, $0)) },
                                          onFinish: { result in
                                              continuation.yield(.finished(i, result))
                                              if remaining.decrement() == 0 { continuation.finish() }
                                          }), to: scheduler)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        @Sendable func event(_ value: some Encodable) throws -> ByteBuffer {
            ByteBuffer(string: "data: " + String(decoding: try encoder.encode(value), as: UTF8.self) + "\n\n")
        }
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-cache"
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            do {
                var started = Set<Int>()
                for i in 0..<opts.count { try await writer.write(try event(chunk(i, "", nil, true))); started.insert(i) }
                for await e in events {
                    switch e {
                    case .delta(let i, let text): try await writer.write(try event(chunk(i, text, nil, false)))
                    case .finished(let i, let r): try await writer.write(try event(chunk(i, nil, r.finishReason.rawValue, false)))
                    }
                }
                try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
                try await writer.finish(nil)
            } catch {
                cancellations.forEach { $0.cancel() }
                throw error
            }
        })
    }

    func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(data: try encoder.encode(value))))
    }
}

/// A thread-safe countdown.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Int
    init(_ v: Int) { value = v }
    func decrement() -> Int { lock.lock(); defer { lock.unlock() }; value -= 1; return value }
}

/// `Authorization: Bearer <key>` on every request it guards; 401 in OpenAI's format otherwise.
struct BearerAuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let key: String
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // The scheme is case-insensitive (RFC 9110 section 11.1); the token is compared exactly.
        let header = request.headers[.authorization] ?? ""
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer", parts[1].trimmingCharacters(in: .whitespaces) == key else {
            throw OpenAI.APIError(status: 401, message: "missing or wrong API key (Authorization: Bearer ...)", type: "invalid_request_error", code: "invalid_api_key")
        }
        return try await next(request, context)
    }
}

/// Every error leaves as OpenAI's error JSON with its status: API errors as thrown, unknown
/// routes as 404, anything else as 500 (the server keeps running).
struct OpenAIErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let e as OpenAI.APIError {
            return Self.response(e)
        } catch let e as HTTPError {
            let status = Int(e.status.code)
            let message = status == 404 ? "no route \(request.method) \(request.uri.path)" : (e.body ?? "\(e.status)")
            return Self.response(OpenAI.APIError(status: status, message: message, type: status == 404 ? "not_found_error" : "invalid_request_error"))
        } catch {
            return Self.response(OpenAI.APIError(status: 500, message: "internal error: \(error)", type: "server_error"))
        }
    }

    static func response(_ e: OpenAI.APIError) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        let data = (try? encoder.encode(e)) ?? Data()
        return Response(status: .init(code: e.status), headers: headers, body: .init(byteBuffer: ByteBuffer(data: data)))
    }
}
