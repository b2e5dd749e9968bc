import Support
import Jinja

/// A model's own Jinja chat template, rendered as transformers' `apply_chat_template` renders it
/// (the same variables: messages, tools and documents as none, add_generation_prompt, the
/// special tokens' text), then tokenized with special tokens recognised in the text.
///
/// The loss mask comes from the same rendering. Where the template marks the assistant's text
/// with `{% generation %}`, those spans are it (as transformers' assistant mask). Otherwise each
/// assistant message's span starts where the conversation before it ends once the generation
/// prompt is added, and ends where the conversation through it ends, trailing whitespace left
/// out (so ChatML's "<|im_end|>" is trained and the newline after it is not). A token is
/// trained when it overlaps a span.
struct ModelTemplateRendering {
    let template: Template
    let origin: String
    let tokenizer: Tokenizer
    let variables: [String: Value]

    func context(_ messages: [ChatMessage], addGenerationPrompt: Bool) -> [String: Value] {
        var c: [String: Value] = [
            "messages": .array(messages.map { .object(Value.Dictionary([("role", .string($0.role)), ("content", .string($0.content))])) }),
            "tools": .none, "documents": .none,
            "add_generation_prompt": .bool(addGenerationPrompt),
        ]
        for (name, id) in [("bos_token", tokenizer.bosTokenId), ("eos_token", tokenizer.eosTokenId), ("pad_token", tokenizer.padTokenId)] {
            if let id, let text = tokenizer.token(id) { c[name] = .string(text) }
        }
        return c.merging(variables) { _, given in given }
    }

    func text(_ messages: [ChatMessage], addGenerationPrompt: Bool) throws -> Template.Rendered {
        do { return try template.render(context(messages, addGenerationPrompt: addGenerationPrompt)) } catch let e as TemplateError {
            throw ChatTemplateError.template(source: origin, e)
        }
    }

    func render(_ messages: [ChatMessage], addGenerationPrompt: Bool, continueFinalMessage: Bool, maskRequired: Bool) throws -> (ids: [Int], mask: [Bool]) {
        let open = continueFinalMessage && messages.last?.role == "assistant"
        let full = try text(messages, addGenerationPrompt: addGenerationPrompt && !open)
        var text = full.text
        if open, let last = messages.last {
            // As transformers does: cut after the final message's content, leaving the turn open.
            let bytes = Array(text.utf8)
            guard let r = [last.content, Template.strip(last.content)].lazy.compactMap({ bytes.lastRange(of: Array($0.utf8)) }).first else {
                throw ChatTemplateError.continuation(last.content)
            }
            text = String(decoding: bytes[..<r.upperBound], as: UTF8.self)
        }
        var spans: [Range<Int>] = []
        do {
            spans = template.hasGenerationBlocks ? full.generationSpans : try assistantSpans(messages, in: text, open: open)
        } catch where !maskRequired {
            // A prompt for generation needs no mask; only training and scoring fail without one.
        }
        let bytes = text.utf8.count
        var ids: [Int] = [], mask: [Bool] = []
        for token in tokenizer.encodeWithOffsets(text) {
            ids.append(token.id)
            let s = min(token.start, bytes), e = min(token.end, bytes)
            mask.append(spans.contains { s < $0.upperBound && e > $0.lowerBound && $0.lowerBound < $0.upperBound })
        }
        return (ids, mask)
    }

    /// Each assistant message's UTF-8 byte range in `text`, from prefix renderings: the turn
    /// starts after the conversation before it with the generation prompt, and ends where the
    /// conversation through it ends. Where a prefix renders differently once later messages
    /// follow (Mistral's templates move the system prompt into the last user turn), the span is
    /// the message's content found after the previous turn, with the end-of-turn token that
    /// directly follows it.
    private func assistantSpans(_ messages: [ChatMessage], in text: String, open: Bool) throws -> [Range<Int>] {
        let full = Array(text.utf8)
        var spans: [Range<Int>] = []
        var previousEnd = 0
        for (i, m) in messages.enumerated() where m.role == "assistant" {
            let isOpen = open && i == messages.count - 1
            let content = Array(Template.strip(m.content).utf8)
            var start: Int? = nil, end: Int? = isOpen ? full.count : nil
            if let before = try? self.text(Array(messages[..<i]), addGenerationPrompt: true).text, full.starts(with: before.utf8), before.utf8.count >= previousEnd {
                start = before.utf8.count
            }
            if end == nil, let through = try? Array(self.text(Array(messages[...i]), addGenerationPrompt: false).text.utf8), full.starts(with: through), through.count > (start ?? previousEnd) {
                var e = through.count
                while e > (start ?? previousEnd), [0x20, 0x09, 0x0A, 0x0D, 0x0B, 0x0C].contains(full[e - 1]) { e -= 1 }
                end = e
            }
            if start == nil || end == nil {
                guard let found = full[previousEnd...].firstRange(of: content), !content.isEmpty else { throw ChatTemplateError.unstablePrefix(message: i) }
                start = start ?? found.lowerBound
                if end == nil {
                    var e = found.upperBound
                    // Rendered only here: most templates never need this fallback.
                    if let eot = endOfTurnTokenId().flatMap(tokenizer.token).map({ Array($0.utf8) }), full[e...].starts(with: eot) { e += eot.count }
                    end = e
                }
            }
            let s = min(start!, end!)
            spans.append(s..<end!)
            previousEnd = end!
        }
        return spans
    }

    /// The first special token after an assistant's text in a rendered exchange: the token
    /// the model was trained to end its turn with ("<|im_end|>", "<|eot_id|>", "<end_of_turn>").
    func endOfTurnTokenId() -> Int? {
        let marker = "SARO-END-OF-TURN-PROBE"
        guard let bytes = (try? text([.user("Hi"), .assistant(marker)], addGenerationPrompt: false)).map({ Array($0.text.utf8) }),
              let r = bytes.lastRange(of: Array(marker.utf8)) else { return nil }
        let after = String(decoding: bytes[r.upperBound...], as: UTF8.self)
        return tokenizer.encodeWithOffsets(after).first { tokenizer.addedTokenIds.contains($0.id) }?.id
    }
}

extension Array where Element == UInt8 {
    /// Byte offsets of the last occurrence of `needle`; nil for an empty one.
    func lastRange(of needle: [UInt8]) -> Range<Int>? {
        guard !needle.isEmpty, needle.count <= count else { return nil }
        for start in stride(from: count - needle.count, through: 0, by: -1) where self[start..<(start + needle.count)].elementsEqual(needle) {
            return start..<(start + needle.count)
        }
        return nil
    }
}
