import Foundation

/// Where a teacher or judge model is served: any OpenAI-compatible `/v1/chat/completions`
/// (vLLM, llama.cpp's server, OpenAI, `saro serve`). Keys follow the names such tools use.
public struct ChatEndpoint: Codable, Sendable, Equatable {
    /// Base URL up to and including `/v1`, e.g. `http://127.0.0.1:8080/v1`.
    public var baseURL: String
    public var model: String
    /// Name of the environment variable that holds the API key (never the key itself, so
    /// recipes can be committed). Unset or empty: no Authorization header.
    public var apiKeyEnv: String?
    /// Requests in flight at once.
    public var maxConcurrency: Int
    /// Seconds before one request is abandoned (and retried).
    public var timeoutSeconds: Double
    /// Further attempts after a 429, a 5xx, a timeout, a network error or an unreadable body.
    public var maxRetries: Int
    /// Upper bound on requests started per minute; nil for none.
    public var requestsPerMinute: Double?
    /// First backoff delay in seconds; doubles on each retry (capped at 30 s), unless the
    /// server sends Retry-After.
    public var backoffSeconds: Double

    enum CodingKeys: String, CodingKey {
        case baseURL = "base_url", model, apiKeyEnv = "api_key_env", maxConcurrency = "max_concurrency"
        case timeoutSeconds = "timeout", maxRetries = "max_retries", requestsPerMinute = "requests_per_minute", backoffSeconds = "backoff"
    }

    public init(baseURL: String, model: String, apiKeyEnv: String? = "OPENAI_API_KEY", maxConcurrency: Int = 4, timeoutSeconds: Double = 120,
                maxRetries: Int = 4, requestsPerMinute: Double? = nil, backoffSeconds: Double = 1) {
        self.baseURL = baseURL; self.model = model; self.apiKeyEnv = apiKeyEnv; self.maxConcurrency = maxConcurrency
        self.timeoutSeconds = timeoutSeconds; self.maxRetries = maxRetries; self.requestsPerMinute = requestsPerMinute; self.backoffSeconds = backoffSeconds
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = ChatEndpoint(baseURL: "", model: "")
        baseURL = try c.decode(String.self, forKey: .baseURL)
        model = try c.decode(String.self, forKey: .model)
        apiKeyEnv = try c.decodeIfPresent(String.self, forKey: .apiKeyEnv) ?? d.apiKeyEnv
        maxConcurrency = try c.decodeIfPresent(Int.self, forKey: .maxConcurrency) ?? d.maxConcurrency
        timeoutSeconds = try c.decodeIfPresent(Double.self, forKey: .timeoutSeconds) ?? d.timeoutSeconds
        maxRetries = try c.decodeIfPresent(Int.self, forKey: .maxRetries) ?? d.maxRetries
        requestsPerMinute = try c.decodeIfPresent(Double.self, forKey: .requestsPerMinute)
        backoffSeconds = try c.decodeIfPresent(Double.self, forKey: .backoffSeconds) ?? d.backoffSeconds
    }

    /// The legacy (text) completions URL beside the chat-completions one.
    public var legacyCompletionsURL: String { apiURL("completions") }

    /// The URL of another route of the same API (`models`, `completions`, ...).
    public func apiURL(_ route: String) -> String {
        String(completionsURL.dropLast("/chat/completions".count)) + "/" + route
    }

    /// The chat-completions URL, whether or not the base URL ends in `/v1` or a slash.
    public var completionsURL: String {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        if base.hasSuffix("/chat/completions") { return base }
        if !base.hasSuffix("/v1") { base += "/v1" }
        return base + "/chat/completions"
    }

    public var apiKey: String? {
        guard let name = apiKeyEnv, let v = ProcessInfo.processInfo.environment[name], !v.isEmpty else { return nil }
        return v
    }
}
