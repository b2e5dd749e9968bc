import Support
import Foundation

public enum ChatTemplateError: Error, CustomStringConvertible, Equatable {
    case unknownTemplate(String)
    case emptyLossMask
    case badRole(String)
    case missingToken(String)

    public var description: String {
        switch self {
        case .unknownTemplate(let t): return "chat template '\(t)' is not known (chatml, llama3, mistral)"
        case .emptyLossMask: return "the conversation has no assistant message, so nothing would be trained on (empty loss mask)"
        case .badRole(let r): return "role '\(r)' is not supported by this template (system, user, assistant)"
        case .missingToken(let t): return "the tokenizer has no token '\(t)' that this chat template needs"
        }
    }
}

/// The chat formats of the supported model families. Rendering returns token ids and a loss
/// mask (nanochat's `render_conversation`): true on assistant tokens, including the token that
/// ends the assistant's turn, false elsewhere.
public struct ChatTemplate: Sendable, Equatable {
    public enum Format: String, Sendable, CaseIterable { case chatml, llama3, mistral }

    public var format: Format
    /// A system prompt the template inserts when a conversation has none (SmolLM2's does).
    public var defaultSystemPrompt: String?

    public init(format: Format, defaultSystemPrompt: String? = nil) {
        self.format = format
        self.defaultSystemPrompt = defaultSystemPrompt
    }

    /// Recognises the format from a model's Jinja template source.
    public static func detect(from source: String) -> ChatTemplate? {
        if source.contains("<|im_start|>") {
            // SmolLM2: "{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are ...<|im_end|>\n' }}"
            var system: String? = nil
            if let r = source.range(of: "'<|im_start|>system\n"), let end = source.range(of: "<|im_end|>", range: r.upperBound..<source.endIndex) {
                let s = String(source[r.upperBound..<end.lowerBound])
                if !s.contains("{") { system = s }
            }
            return ChatTemplate(format: .chatml, defaultSystemPrompt: system)
        }
        if source.contains("<|start_header_id|>") { return ChatTemplate(format: .llama3) }
        if source.contains("[INST]") { return ChatTemplate(format: .mistral) }
        return nil
    }

    /// The template for a name given by the user, or the model's own.
    public static func resolve(name: String?, tokenizer: Tokenizer) throws -> ChatTemplate {
        if let name, name != "auto" {
            guard let f = Format(rawValue: name) else { throw ChatTemplateError.unknownTemplate(name) }
            return ChatTemplate(format: f)
        }
        if let src = tokenizer.chatTemplate, let t = detect(from: src) { return t }
        return ChatTemplate(format: .chatml)
    }

    /// (ids, mask) for a conversation. With `addGenerationPrompt` the assistant header is appended
    /// so the model continues as the assistant; a final assistant message with
    /// `continueFinalMessage` is left open (no end-of-turn), which is how a partial reasoning
    /// prefix is continued.
    public func render(_ messages: [ChatMessage], tokenizer: Tokenizer, addGenerationPrompt: Bool = false,
                       continueFinalMessage: Bool = false, requireLoss: Bool = false) throws -> (ids: [Int], mask: [Bool]) {
        // Pieces are collected first and tokenized run by run: the text between two special
        // tokens is encoded as one string (as the model's own template renders it), and each
        // token takes the mask of the piece its first byte falls in.
        var pieces: [(text: String, special: Bool, train: Bool)] = []
        func add(_ text: String, _ train: Bool) { if !text.isEmpty { pieces.append((text, false, train)) } }
        func special(_ token: String, _ train: Bool) throws {
            guard tokenizer.id(of: token) != nil else { throw ChatTemplateError.missingToken(token) }
            pieces.append((token, true, train))
        }
        var bos = false
        var msgs = messages
        for m in msgs where !["system", "user", "assistant"].contains(m.role) { throw ChatTemplateError.badRole(m.role) }
        switch format {
        case .chatml:
            if msgs.first?.role != "system", let s = defaultSystemPrompt { msgs.insert(.system(s), at: 0) }
            for (i, m) in msgs.enumerated() {
                let open = continueFinalMessage && i == msgs.count - 1 && m.role == "assistant"
                let train = m.role == "assistant"
                try special("<|im_start|>", false)
                add("\(m.role)\n", false)
                add(m.content, train)
                if open { break }
                try special("<|im_end|>", train)
                add("\n", false)
            }
            if addGenerationPrompt { try special("<|im_start|>", false); add("assistant\n", false) }
        case .llama3:
            bos = true
            for (i, m) in msgs.enumerated() {
                let open = continueFinalMessage && i == msgs.count - 1 && m.role == "assistant"
                let train = m.role == "assistant"
                try special("<|start_header_id|>", false)
                add(m.role, false)
                try special("<|end_header_id|>", false)
                add("\n\n", false)
                add(m.content.trimmingCharacters(in: .whitespacesAndNewlines), train)
                if open { break }
                try special("<|eot_id|>", train)
            }
            if addGenerationPrompt {
                try special("<|start_header_id|>", false); add("assistant", false); try special("<|end_header_id|>", false); add("\n\n", false)
            }
        case .mistral:
            bos = true
            var system: String? = nil
            if msgs.first?.role == "system" { system = msgs.removeFirst().content }
            for (i, m) in msgs.enumerated() {
                if m.role == "user" {
                    let content = system.map { "\($0)\n\n\(m.content)" } ?? m.content
                    system = nil
                    add("[INST] \(content) [/INST]", false)
                } else {
                    let open = continueFinalMessage && i == msgs.count - 1
                    add(" " + m.content, true)
                    if open { break }
                    if let eos = tokenizer.eosTokenId, let token = tokenizer.token(eos) { try special(token, true) }
                }
            }
        }
        var ids: [Int] = [], mask: [Bool] = []
        if bos, let b = tokenizer.bosTokenId { ids.append(b); mask.append(false) }
        var i = 0
        while i < pieces.count {
            if pieces[i].special {
                ids.append(tokenizer.id(of: pieces[i].text)!)
                mask.append(pieces[i].train)
                i += 1
                continue
            }
            var run: [(text: String, special: Bool, train: Bool)] = []
            while i < pieces.count && !pieces[i].special { run.append(pieces[i]); i += 1 }
            var ends: [Int] = []   // byte offset where each piece of the run ends
            var total = 0
            for piece in run { total += piece.text.utf8.count; ends.append(total) }
            var offset = 0
            for id in tokenizer.encode(run.map(\.text).joined(), parseSpecial: false) {
                let owner = ends.firstIndex { offset < $0 } ?? run.count - 1
                ids.append(id)
                mask.append(run[owner].train)
                offset += tokenizer.byteCount(of: id)
            }
        }
        if requireLoss && !mask.contains(true) { throw ChatTemplateError.emptyLossMask }
        return (ids, mask)
    }

    /// Token ids that end an assistant turn in this format.
    public func stopTokenIds(tokenizer: Tokenizer) -> Set<Int> {
        var s = Set<Int>()
        switch format {
        case .chatml: if let id = tokenizer.id(of: "<|im_end|>") { s.insert(id) }
        case .llama3: if let id = tokenizer.id(of: "<|eot_id|>") { s.insert(id) }
        case .mistral: break
        }
        if let eos = tokenizer.eosTokenId { s.insert(eos) }
        return s
    }
}
