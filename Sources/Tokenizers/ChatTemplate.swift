import Support
import Foundation
import Jinja

public enum ChatTemplateError: Error, CustomStringConvertible, Equatable {
    case unknownTemplate(String)
    case emptyLossMask
    case badRole(String)
    case missingToken(String)
    case template(source: String, TemplateError)
    case continuation(String)
    case unstablePrefix(message: Int)

    public var description: String {
        switch self {
        case .unknownTemplate(let t): return "chat template '\(t)' is neither a template file nor a built-in format (chatml, llama3, mistral)"
        case .emptyLossMask: return "the conversation has no assistant message, so nothing would be trained on (empty loss mask)"
        case .badRole(let r): return "role '\(r)' is not supported by this template (system, user, assistant)"
        case .missingToken(let t): return "the tokenizer has no token '\(t)' that this chat template needs"
        case .template(let source, let e): return "\(source): \(e)"
        case .continuation(let content):
            return "the final assistant message does not appear in the rendered conversation, so it cannot be continued: \(content.prefix(60).debugDescription)"
        case .unstablePrefix(let i):
            return "the chat template renders the conversation before message \(i) differently once that message follows (as templates that drop past reasoning do), so the assistant's tokens cannot be found; use a template with {% generation %} markers (--chat-template FILE)"
        }
    }
}

/// How a conversation becomes tokens. Rendering returns token ids and a loss mask (nanochat's
/// `render_conversation`): true on the assistant's tokens, including the token that ends its
/// turn, false elsewhere.
///
/// A model's own template (`chat_template` in tokenizer_config.json or the GGUF) is rendered as
/// Hugging Face renders it; saro's three built-in formats serve files that carry none.
public struct ChatTemplate: Sendable {
    public enum Format: String, Sendable, CaseIterable { case chatml, llama3, mistral }

    public enum Source: Sendable {
        case builtin(Format)
        /// A Jinja template and where it came from (for messages).
        case model(Template, origin: String)
    }

    public var source: Source
    /// Set when the model has no template of its own and a built-in format stands in: a
    /// model trained on a format it never saw learns that format, so callers show this.
    public var warning: String?
    /// More variables for a model's template, as vLLM's `chat_template_kwargs` (`date_string`,
    /// `enable_thinking`); the built-in formats take none.
    public var variables: [String: Value] = [:]

    public init(format: Format) { source = .builtin(format) }

    /// A template from Jinja source; a syntax error names `origin` and the line.
    public init(jinja: String, origin: String) throws {
        do { source = .model(try Template(jinja), origin: origin) } catch let e as TemplateError {
            throw ChatTemplateError.template(source: origin, e)
        }
    }

    /// The built-in format, or nil for a model's own template.
    public var format: Format? { if case .builtin(let f) = source { return f } else { return nil } }

    /// What identifies the rendering, for cache keys: the format's name or the template's hash.
    public var identity: String {
        switch source {
        case .builtin(let f): return f.rawValue
        case .model(let t, _): return "jinja:" + Hex.sha256(t.source)
        }
    }

    /// The template for `name`: nil or "auto" takes the model's own template (a built-in ChatML
    /// with a warning when the files have none); "chatml", "llama3", "mistral" a built-in
    /// format; anything else is read as a Jinja template file (vLLM's `--chat-template`).
    public static func resolve(name: String?, tokenizer: Tokenizer) throws -> ChatTemplate {
        if let name, name != "auto" {
            if let f = Format(rawValue: name) { return ChatTemplate(format: f) }
            guard let data = FileManager.default.contents(atPath: name) else { throw ChatTemplateError.unknownTemplate(name) }
            return try ChatTemplate(jinja: try UTF8Text.decode(data, path: name), origin: name)
        }
        if let source = tokenizer.chatTemplate {
            return try ChatTemplate(jinja: source, origin: "the model's chat_template")
        }
        var t = ChatTemplate(format: .chatml)
        t.warning = "the model's files carry no chat template; rendering conversations as ChatML (choose another with --chat-template chatml|llama3|mistral|FILE)"
        return t
    }

    /// (ids, mask) for a conversation. With `addGenerationPrompt` the assistant header is appended
    /// so the model continues as the assistant; a final assistant message with
    /// `continueFinalMessage` is left open (no end-of-turn), which is how a partial reasoning
    /// prefix is continued.
    public func render(_ messages: [ChatMessage], tokenizer: Tokenizer, addGenerationPrompt: Bool = false,
                       continueFinalMessage: Bool = false, requireLoss: Bool = false) throws -> (ids: [Int], mask: [Bool]) {
        let out: (ids: [Int], mask: [Bool])
        switch source {
        case .builtin(let f):
            out = try Self.renderBuiltin(f, messages, tokenizer: tokenizer, addGenerationPrompt: addGenerationPrompt, continueFinalMessage: continueFinalMessage)
        case .model(let t, let origin):
            let r = ModelTemplateRendering(template: t, origin: origin, tokenizer: tokenizer, variables: variables)
            out = try r.render(messages, addGenerationPrompt: addGenerationPrompt, continueFinalMessage: continueFinalMessage, maskRequired: requireLoss || !addGenerationPrompt)
        }
        if requireLoss && !out.mask.contains(true) { throw ChatTemplateError.emptyLossMask }
        return out
    }

    /// The token that closes an assistant turn: what completions of preference pairs end with.
    public func endOfTurnTokenId(tokenizer: Tokenizer) -> Int? {
        switch source {
        case .builtin(.chatml): return tokenizer.id(of: "<|im_end|>") ?? tokenizer.eosTokenId
        case .builtin(.llama3): return tokenizer.id(of: "<|eot_id|>") ?? tokenizer.eosTokenId
        case .builtin(.mistral): return tokenizer.eosTokenId
        case .model(let t, let origin): return ModelTemplateRendering(template: t, origin: origin, tokenizer: tokenizer, variables: variables).endOfTurnTokenId() ?? tokenizer.eosTokenId
        }
    }

    /// Token ids that end an assistant turn: the end-of-turn token and end-of-sequence.
    public func stopTokenIds(tokenizer: Tokenizer) -> Set<Int> {
        var s = Set<Int>()
        if let id = endOfTurnTokenId(tokenizer: tokenizer) { s.insert(id) }
        if let eos = tokenizer.eosTokenId { s.insert(eos) }
        return s
    }
}
