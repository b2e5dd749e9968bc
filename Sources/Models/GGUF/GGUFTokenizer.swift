import Tokenizers

/// The tokenizer stored in a GGUF file's `tokenizer.ggml.*` metadata (model "gpt2": byte-level
/// BPE). The pre-tokenizer is chosen from `tokenizer.ggml.pre`, llama.cpp's name for the
/// original tokenizer's splitting rules.
extension GGUFFile {
    public func tokenizer() throws -> Tokenizer {
        let model = metadata["tokenizer.ggml.model"]?.string ?? "?"
        guard model == "gpt2" else {
            throw GGUFError.corrupt(file: path, reason: "tokenizer model '\(model)' is not supported (only byte-level BPE, 'gpt2')")
        }
        guard let tokens = metadata["tokenizer.ggml.tokens"]?.array?.compactMap(\.string) else {
            throw GGUFError.missingMetadata(file: path, key: "tokenizer.ggml.tokens")
        }
        let types = metadata["tokenizer.ggml.token_type"]?.array?.compactMap(\.int) ?? []
        var vocab: [String: Int] = [:]
        vocab.reserveCapacity(tokens.count)
        var added: [Tokenizer.AddedToken] = []
        for (i, t) in tokens.enumerated() {
            vocab[t] = i
            // token types: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte
            let type = i < types.count ? types[i] : 1
            if type == 3 || type == 4 { added.append(.init(id: i, content: t, special: type == 3)) }
        }
        let merges: [(String, String)] = try (metadata["tokenizer.ggml.merges"]?.array ?? []).enumerated().map { i, v in
            let s = v.string ?? ""
            let parts = s.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2 else { throw GGUFError.corrupt(file: path, reason: "merge \(i) '\(s)' is not two tokens") }
            return (String(parts[0]), String(parts[1]))
        }
        let pre = metadata["tokenizer.ggml.pre"]?.string ?? "default"
        let t = try Tokenizer(vocab: vocab, merges: merges, addedTokens: added, preTokenizer: try GGUFFile.preTokenizer(named: pre, file: path), source: path)
        // Special ids index the embedding: one outside the vocabulary is corrupt metadata.
        func special(_ key: String) throws -> Int? {
            guard let v = metadata[key] else { return nil }
            guard let id = v.int, (0..<tokens.count).contains(id) else {
                throw GGUFError.corrupt(file: path, reason: "\(key) = \(v) is outside the vocabulary of \(tokens.count) tokens")
            }
            return id
        }
        t.bosTokenId = try special("tokenizer.ggml.bos_token_id")
        t.eosTokenId = try special("tokenizer.ggml.eos_token_id")
        t.padTokenId = try special("tokenizer.ggml.padding_token_id")
        t.addBosToken = metadata["tokenizer.ggml.add_bos_token"]?.bool ?? false
        t.chatTemplate = metadata["tokenizer.chat_template"]?.string
        if pre == "qwen2" { t.normalizeNFC = true }
        if pre == "llama-bpe" { t.ignoreMerges = true }
        return t
    }

    /// llama.cpp's pre-tokenizer names mapped to the Hugging Face pre-tokenizers that
    /// transformers' GGUF loader builds for them: GPT-2's byte-level split for "smollm" too
    /// (SmolLM2's own tokenizer.json splits digits individually first; the two differ only on
    /// whitespace runs before a digit, and a checkpoint directory's tokenizer.json is read as
    /// written).
    static func preTokenizer(named name: String, file: String) throws -> PreTokenizer {
        switch name {
        case "default", "gpt-2", "gpt2", "smollm", "starcoder", "refact":
            return .byteLevel(addPrefixSpace: false, useRegex: true)
        case "llama-bpe", "llama3":
            return .sequence([.split(pattern: PreTokenizer.llama3Pattern, behavior: .isolated, invert: false), .byteLevel(addPrefixSpace: false, useRegex: false)])
        case "qwen2":
            return .sequence([.split(pattern: PreTokenizer.qwen2Pattern, behavior: .isolated, invert: false), .byteLevel(addPrefixSpace: false, useRegex: false)])
        default:
            throw GGUFError.corrupt(file: file, reason: "pre-tokenizer '\(name)' is not supported (gpt2, smollm, llama-bpe, qwen2)")
        }
    }
}
