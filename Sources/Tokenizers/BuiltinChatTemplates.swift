import Support

/// The three formats saro writes itself, for model files that carry no chat template of their
/// own (and for `--chat-template chatml|llama3|mistral`).
extension ChatTemplate {
    /// (ids, mask) in one of the built-in formats.
    static func renderBuiltin(_ format: Format, _ messages: [ChatMessage], tokenizer: Tokenizer,
                              addGenerationPrompt: Bool, continueFinalMessage: Bool) throws -> (ids: [Int], mask: [Bool]) {
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
        return (ids, mask)
    }
}
