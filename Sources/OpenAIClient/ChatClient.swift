import Support
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

public struct ChatParameters: Sendable, Equatable, Codable {
    public var temperature: Double
    public var maxTokens: Int
    public var seed: Int?
    public var stop: [String]
    /// Nucleus sampling; nil leaves the server's default (1).
    public var topP: Double?
    public init(temperature: Double = 0.7, maxTokens: Int = 1024, seed: Int? = nil, stop: [String] = [], topP: Double? = nil) {
        self.temperature = temperature; self.maxTokens = maxTokens; self.seed = seed; self.stop = stop; self.topP = topP
    }
}

public struct ChatReply: Codable, Sendable, Equatable {
    public var content: String
    public var finishReason: String?
    public var promptTokens: Int?
    public var completionTokens: Int?
    public init(content: String, finishReason: String? = nil, promptTokens: Int? = nil, completionTokens: Int? = nil) {
        self.content = content; self.finishReason = finishReason; self.promptTokens = promptTokens; self.completionTokens = completionTokens
    }
}

public enum ChatClientError: Error, CustomStringConvertible {
    case badURL(String)
    case http(url: String, status: Int, body: String, attempts: Int)
    case malformed(url: String, reason: String, attempts: Int)
    case transport(url: String, reason: String, attempts: Int)
    case rejected(url: String, status: Int, body: String)

    public var description: String {
        switch self {
        case .badURL(let u): return "'\(u)' is not a valid endpoint URL"
        case .http(let u, let s, let b, let a): return "\(u): HTTP \(s) after \(a) attempt(s): \(b.prefix(300))"
        case .malformed(let u, let r, let a): return "\(u): unreadable reply after \(a) attempt(s): \(r)"
        case .transport(let u, let r, let a): return "\(u): request failed after \(a) attempt(s): \(r)"
        case .rejected(let u, let s, let b): return "\(u): HTTP \(s) (not retried): \(b.prefix(300))"
        }
    }
}

/// Client of an OpenAI-compatible chat endpoint with bounded concurrency, a request-rate
/// limit, per-request timeouts, and retries with exponential backoff on 429, 5xx, network
/// errors, timeouts and unreadable bodies. Other 4xx answers fail at once: retrying a bad
/// request or a wrong key only wastes time.
public final class ChatClient: Sendable {
    public let endpoint: ChatEndpoint
    private let gate: Gate
    private let http: HTTPClient

    /// Requests that needed at least one retry, and retries in all (for reports and tests).
    public var retries: Int { get async { await gate.retries } }

    public init(endpoint: ChatEndpoint) {
        self.endpoint = endpoint
        self.gate = Gate(limit: max(1, endpoint.maxConcurrency), perMinute: endpoint.requestsPerMinute)
        self.http = HTTPClient.shared
    }

    public func complete(_ messages: [ChatMessage], parameters: ChatParameters = ChatParameters()) async throws -> ChatReply {
        try await send(.POST, url: endpoint.completionsURL, body: try requestBody(messages, parameters), parse: Self.parse)
    }

    /// The log-probability of each token of `tokenIDs` given the ones before it (nil for the
    /// first), through the legacy completions endpoint with `echo` and `logprobs`, as vLLM and
    /// OpenAI's API give them. Nil when the server answers that it does not support them (a 4xx
    /// answer, or a reply without prompt log-probs): the caller reports "not measured".
    public func promptLogprobs(_ tokenIDs: [Int]) async throws -> [Double?]? {
        let body = try JSONSerialization.data(withJSONObject: [
            "model": endpoint.model, "prompt": tokenIDs, "echo": true, "logprobs": 0, "max_tokens": 1, "temperature": 0,
        ] as [String: Any], options: [.sortedKeys])
        do {
            return try await send(.POST, url: endpoint.legacyCompletionsURL, body: body) { data in
                try Self.parseEchoedLogprobs(data, count: tokenIDs.count)
            }
        } catch ChatClientError.rejected { return nil }
    }

    /// `choices[0].logprobs.token_logprobs`, the echoed prompt's first `count` entries; nil
    /// when the reply has none for every prompt token (the server ignores echo or logprobs).
    static func parseEchoedLogprobs(_ data: Data, count: Int) throws -> [Double?]? {
        guard let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ParseError(description: "not a JSON object: \(String(decoding: data.prefix(200), as: UTF8.self))")
        }
        guard let first = (obj["choices"] as? [[String: Any]])?.first,
              let values = (first["logprobs"] as? [String: Any])?["token_logprobs"] as? [Any], values.count >= count else { return nil }
        return values.prefix(count).map { ($0 as? NSNumber)?.doubleValue }
    }

    /// The model names the server lists (`GET /v1/models`): its base model and the LoRA
    /// adapters it has loaded.
    public func servedModels() async throws -> [String] {
        try await send(.GET, url: endpoint.apiURL("models"), body: nil) { data in
            guard let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let list = obj["data"] as? [[String: Any]] else {
                throw ParseError(description: "no data[] list of models: \(String(decoding: data.prefix(200), as: UTF8.self))")
            }
            return list.compactMap { $0["id"] as? String }
        }
    }

    /// Loads the LoRA adapter at `path` (a PEFT folder the server can read) under `name`, the
    /// way vLLM loads adapters at run time: `POST /v1/load_lora_adapter` with `lora_name` and
    /// `lora_path`. A server without that route rejects it (HTTP 404).
    public func loadAdapter(name: String, path: String) async throws {
        let body = try JSONSerialization.data(withJSONObject: ["lora_name": name, "lora_path": path], options: [.sortedKeys])
        try await send(.POST, url: endpoint.apiURL("load_lora_adapter"), body: body) { _ in () }
    }

    /// Unloads the adapter `name` (`POST /v1/unload_lora_adapter`).
    public func unloadAdapter(name: String) async throws {
        let body = try JSONSerialization.data(withJSONObject: ["lora_name": name], options: [.sortedKeys])
        try await send(.POST, url: endpoint.apiURL("unload_lora_adapter"), body: body) { _ in () }
    }

    /// Sends a request to `url` with the endpoint's limits: retries on 429, 5xx, network errors
    /// and unreadable replies, with exponential backoff or the server's Retry-After.
    private func send<Reply>(_ method: HTTPMethod, url: String, body: Data?, parse: @escaping (Data) throws -> Reply) async throws -> Reply {
        guard URL(string: url)?.host != nil else { throw ChatClientError.badURL(url) }
        var attempt = 0
        while true {
            attempt += 1
            await gate.acquire()
            let outcome: Outcome<Reply>
            do { outcome = try await sendOnce(method, url: url, body: body, parse: parse) } catch {
                await gate.release()
                throw error
            }
            await gate.release()
            switch outcome {
            case .reply(let r): return r
            case .retry(let error, let retryAfter):
                if attempt > endpoint.maxRetries { throw error.withAttempts(attempt) }
                await gate.countRetry()
                let delay = retryAfter ?? min(30, endpoint.backoffSeconds * pow(2, Double(attempt - 1)))
                try await Task.sleep(nanoseconds: UInt64(max(0, delay) * 1e9))
            }
        }
    }

    private enum Outcome<Reply> { case reply(Reply), retry(ChatClientError, Double?) }

    private func sendOnce<Reply>(_ method: HTTPMethod, url: String, body: Data?, parse: (Data) throws -> Reply) async throws -> Outcome<Reply> {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let key = endpoint.apiKey { request.headers.add(name: "Authorization", value: "Bearer \(key)") }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(data: body))
        }
        let response: HTTPClientResponse
        let bytes: ByteBuffer
        do {
            response = try await http.execute(request, timeout: .milliseconds(Int64(endpoint.timeoutSeconds * 1000)))
            bytes = try await response.body.collect(upTo: 64 << 20)
        } catch {
            return .retry(.transport(url: url, reason: "\(error)", attempts: 0), nil)
        }
        let text = String(buffer: bytes)
        let status = Int(response.status.code)
        if status == 429 || status >= 500 {
            let retryAfter = response.headers.first(name: "Retry-After").flatMap(Double.init)
            return .retry(.http(url: url, status: status, body: text, attempts: 0), retryAfter)
        }
        guard (200..<300).contains(status) else { throw ChatClientError.rejected(url: url, status: status, body: text) }
        do { return .reply(try parse(Data(buffer: bytes))) } catch {
            return .retry(.malformed(url: url, reason: "\(error)", attempts: 0), nil)
        }
    }

    private func requestBody(_ messages: [ChatMessage], _ p: ChatParameters) throws -> Data {
        var obj: [String: Any] = [
            "model": endpoint.model,
            "messages": messages.map { ["role": $0.role, "content": $0.content] },
            "temperature": p.temperature,
            "max_tokens": p.maxTokens,
        ]
        if let seed = p.seed { obj["seed"] = seed }
        if !p.stop.isEmpty { obj["stop"] = p.stop }
        if let topP = p.topP { obj["top_p"] = topP }
        return try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys])
    }

    struct ParseError: Error, CustomStringConvertible { let description: String }

    /// The first choice's message content (a string, or an array of text parts) and usage.
    static func parse(_ data: Data) throws -> ChatReply {
        guard let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ParseError(description: "not a JSON object: \(String(decoding: data.prefix(200), as: UTF8.self))")
        }
        guard let choices = obj["choices"] as? [[String: Any]], let first = choices.first, let message = first["message"] as? [String: Any] else {
            throw ParseError(description: "no choices[0].message")
        }
        let content: String
        if let s = message["content"] as? String { content = s } else if let parts = message["content"] as? [[String: Any]] {
            content = parts.compactMap { $0["text"] as? String }.joined()
        } else { throw ParseError(description: "choices[0].message.content is missing") }
        let usage = obj["usage"] as? [String: Any]
        return ChatReply(content: content, finishReason: first["finish_reason"] as? String,
                         promptTokens: usage?["prompt_tokens"] as? Int, completionTokens: usage?["completion_tokens"] as? Int)
    }
}

extension ChatClientError {
    func withAttempts(_ n: Int) -> ChatClientError {
        switch self {
        case .http(let u, let s, let b, _): return .http(url: u, status: s, body: b, attempts: n)
        case .malformed(let u, let r, _): return .malformed(url: u, reason: r, attempts: n)
        case .transport(let u, let r, _): return .transport(url: u, reason: r, attempts: n)
        default: return self
        }
    }
}

/// Bounded concurrency plus a minimum spacing between request starts (the rate limit).
actor Gate {
    private let limit: Int
    private let interval: Double
    private var inFlight = 0
    private var waiters: [CheckedContinuation<Void, Never>] = []
    private var nextStart = Date.distantPast
    private(set) var retries = 0

    init(limit: Int, perMinute: Double?) {
        self.limit = limit
        self.interval = perMinute.map { $0 > 0 ? 60 / $0 : 0 } ?? 0
    }

    func acquire() async {
        if inFlight >= limit {
            await withCheckedContinuation { waiters.append($0) }
        } else {
            inFlight += 1
        }
        if interval > 0 {
            let now = Date()
            let start = max(now, nextStart)
            nextStart = start.addingTimeInterval(interval)
            let wait = start.timeIntervalSince(now)
            if wait > 0 { try? await Task.sleep(nanoseconds: UInt64(wait * 1e9)) }
        }
    }

    func release() {
        if waiters.isEmpty { inFlight -= 1 } else { waiters.removeFirst().resume() }
    }

    func countRetry() { retries += 1 }
}
