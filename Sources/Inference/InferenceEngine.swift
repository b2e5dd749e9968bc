import Support
import Models
import Tokenizers

/// One chat completion to make: the conversation and how to sample its answer. The seed in
/// `sampling` belongs to this request, so an answer does not depend on the batch, the engine's
/// scheduling or which server answered it.
public struct CompletionRequest: Sendable, Equatable {
    public var messages: [ChatMessage]
    public var maxTokens: Int
    public var sampling: SamplingParameters
    public init(messages: [ChatMessage], maxTokens: Int, sampling: SamplingParameters = .greedy) {
        self.messages = messages; self.maxTokens = maxTokens; self.sampling = sampling
    }
}

/// A completion's text and how many tokens it took.
public struct Completion: Codable, Sendable, Equatable {
    public var text: String
    public var tokens: Int
    public init(text: String, tokens: Int) { self.text = text; self.tokens = tokens }
}

/// Teacher-forced negative log-likelihood of a conversation's assistant tokens: their sum and
/// how many there are.
public struct AssistantNLL: Codable, Sendable, Equatable {
    public var sum: Double
    public var tokens: Int
    public init(sum: Double, tokens: Int) { self.sum = sum; self.tokens = tokens }
    public var mean: Double { sum / Double(max(1, tokens)) }

    /// The NLL of the masked tokens from each token's log-probability given the ones before it
    /// (`logProbs[t - 1]` for token t; the first token has none), as a model or a server's
    /// echoed prompt reports them. Nil when a masked token has no log-probability.
    public init?(logProbs: [Double?], mask: [Bool]) {
        var sum = 0.0, n = 0
        for t in mask.indices.dropFirst() where mask[t] {
            guard t - 1 < logProbs.count, let lp = logProbs[t - 1] else { return nil }
            sum -= lp
            n += 1
        }
        self.init(sum: sum, tokens: n)
    }
}

/// What the data builders, the evaluation and the pipeline ask of a model, whichever engine
/// runs it: saro's own (`EmbeddedEngine`) or an OpenAI-compatible server (`ServerEngine`).
public protocol InferenceEngine: AnyObject, Sendable {
    /// Names the model (and engine) by content: job-store keys include it, so stored answers
    /// are reused only for the same model on the same kind of engine.
    var fingerprint: String { get }
    /// Requests decoded together (a decoding batch, or the requests in flight).
    var batchSize: Int { get }
    /// Requests worth handing to one `complete` call (callers store the answers per call, so a
    /// rerun after an interruption redoes at most one call's worth).
    var chunkSize: Int { get }
    /// One completion per request, in request order.
    func complete(_ requests: [CompletionRequest]) async throws -> [Completion]
    /// The NLL of each conversation's assistant turns, or nil when this engine cannot score
    /// given text (a server without prompt log-probs): callers report "not measured".
    func assistantNLL(_ conversations: [[ChatMessage]]) async throws -> [AssistantNLL]?
    /// Tokens of a text under the model's tokenizer, or nil when the engine has none here.
    func countTokens(_ text: String) throws -> Int?
}

public extension InferenceEngine {
    var chunkSize: Int { batchSize }
}

/// An engine that can show its hidden states (the embedding analysis and trained judges need
/// them; a server does not expose them).
public protocol HiddenStateEngine: InferenceEngine {
    /// The model's number of decoder layers.
    func layerCount() throws -> Int
    /// For each prompt, rendered as a user turn with the assistant header: the hidden state
    /// after each of `layers` decoder layers, pooled over the prompt's tokens.
    func pooledHiddenStates(_ prompts: [String], layers: Set<Int>) throws -> [[Int: PooledHiddenState]]
}

/// One sequence's hidden states at one layer, pooled: the mean over its tokens, and the last
/// token's (which, under causal attention, has read the whole sequence).
public struct PooledHiddenState: Sendable {
    public var mean: [Double]
    public var last: [Double]
    public init(mean: [Double], last: [Double]) { self.mean = mean; self.last = last }
}
