import Support
import Foundation
import Tokenizers

/// The OpenAI chat and completion API's JSON, as clients send and expect it.
public enum OpenAI {
    /// `stop`: a string or a list of strings.
    public enum Stop: Codable, Sendable, Equatable {
        case one(String), many([String])
        public init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let s = try? c.decode(String.self) { self = .one(s) } else { self = .many(try c.decode([String].self)) }
        }
        public func encode(to encoder: Encoder) throws {
            var c = encoder.singleValueContainer()
            switch self { case .one(let s): try c.encode(s); case .many(let l): try c.encode(l) }
        }
        public var strings: [String] { switch self { case .one(let s): return [s]; case .many(let l): return l } }
    }

    public struct ChatRequest: Codable, Sendable {
        public var model: String?
        public var messages: [ChatMessage]
        public var max_tokens: Int?
        public var max_completion_tokens: Int?
        public var temperature: Double?
        public var top_p: Double?
        /// vLLM's extension: keep the k most likely tokens (-1 or 0: all).
        public var top_k: Int?
        public var seed: UInt64?
        public var stop: Stop?
        public var n: Int?
        public var stream: Bool?
    }

    /// `prompt`: a string, or token ids (how scoring clients send exactly the tokens to score).
    public enum Prompt: Codable, Sendable, Equatable {
        case text(String), tokens([Int])
        public init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let s = try? c.decode(String.self) { self = .text(s) } else { self = .tokens(try c.decode([Int].self)) }
        }
        public func encode(to encoder: Encoder) throws {
            var c = encoder.singleValueContainer()
            switch self { case .text(let s): try c.encode(s); case .tokens(let t): try c.encode(t) }
        }
    }

    public struct CompletionRequest: Codable, Sendable {
        public var model: String?
        public var prompt: Prompt
        /// Return the prompt before the completion, in `text` and in `logprobs`.
        public var echo: Bool?
        /// Log-probabilities of the returned tokens (each given the ones before it). Only the
        /// chosen token's are given (`top_logprobs` is null): 0 is the only value taken.
        public var logprobs: Int?
        public var max_tokens: Int?
        public var temperature: Double?
        public var top_p: Double?
        /// vLLM's extension: keep the k most likely tokens (-1 or 0: all).
        public var top_k: Int?
        public var seed: UInt64?
        public var stop: Stop?
        public var n: Int?
        public var stream: Bool?
    }

    public struct Usage: Codable, Sendable, Equatable {
        public var prompt_tokens: Int
        public var completion_tokens: Int
        public var total_tokens: Int
    }

    public struct ChatChoice: Codable, Sendable {
        public var index: Int
        public var message: ChatMessage
        public var finish_reason: String
    }

    public struct ChatResponse: Codable, Sendable {
        public var id: String
        public var object = "chat.completion"
        public var created: Int
        public var model: String
        public var choices: [ChatChoice]
        public var usage: Usage
    }

    public struct Delta: Codable, Sendable {
        public var role: String?
        public var content: String?
    }

    public struct ChunkChoice: Codable, Sendable {
        public var index: Int
        public var delta: Delta
        public var finish_reason: String?
    }

    public struct ChatChunk: Codable, Sendable {
        public var id: String
        public var object = "chat.completion.chunk"
        public var created: Int
        public var model: String
        public var choices: [ChunkChoice]
        public var usage: Usage?
    }

    public struct CompletionChoice: Codable, Sendable {
        public var index: Int
        public var text: String
        public var logprobs: Logprobs? = nil
        public var finish_reason: String?
    }

    /// The legacy completions' log-probabilities: one entry per returned token; the first
    /// token of an echoed prompt has none (null).
    public struct Logprobs: Codable, Sendable, Equatable {
        public var tokens: [String]
        public var token_logprobs: [Double?]
        public var top_logprobs: [[String: Double]]?
        public var text_offset: [Int]
    }

    public struct CompletionResponse: Codable, Sendable {
        public var id: String
        public var object = "text_completion"
        public var created: Int
        public var model: String
        public var choices: [CompletionChoice]
        public var usage: Usage?
    }

    public struct Model: Codable, Sendable {
        public var id: String
        public var object = "model"
        public var created: Int
        public var owned_by = "saro"
        /// The base model a LoRA adapter runs on (vLLM lists loaded adapters this way); nil for the base.
        public var parent: String?
    }

    /// `POST /v1/load_lora_adapter` and `/v1/unload_lora_adapter` (vLLM's run-time LoRA routes).
    public struct LoRAAdapterRequest: Codable, Sendable {
        public var lora_name: String
        public var lora_path: String?
    }

    public struct ModelList: Codable, Sendable {
        public var object = "list"
        public var data: [Model]
    }

    /// `{"error": {"message", "type", "param", "code"}}` with the HTTP status it goes with.
    public struct APIError: Error, Codable, Sendable {
        public struct Body: Codable, Sendable {
            public var message: String
            public var type: String
            public var param: String?
            public var code: String?
        }
        public var error: Body
        public var status: Int { statusCode ?? 400 }
        var statusCode: Int?

        enum CodingKeys: String, CodingKey { case error }

        public init(status: Int, message: String, type: String, param: String? = nil, code: String? = nil) {
            error = Body(message: message, type: type, param: param, code: code)
            statusCode = status
        }

        public static func invalid(_ message: String, param: String? = nil) -> APIError {
            APIError(status: 400, message: message, type: "invalid_request_error", param: param)
        }
    }
}
