import Foundation

/// Writing a tokenizer back out as Hugging Face files (`tokenizer.json`,
/// `tokenizer_config.json`), so a model saved by saro loads in transformers with its tokenizer.
extension Tokenizer {
    public func tokenizerJSONObject() -> [String: Any] {
        var added: [[String: Any]] = []
        for t in addedTokens.sorted(by: { $0.id < $1.id }) {
            added.append(["id": t.id, "content": t.content, "single_word": false, "lstrip": false, "rstrip": false,
                          "normalized": false, "special": t.special])
        }
        var vocabObj: [String: Int] = [:]
        for (t, i) in vocab { vocabObj[t] = i }  // added tokens too: `tokenizers` expects them in both
        return [
            "version": "1.0",
            "truncation": NSNull(), "padding": NSNull(),
            "added_tokens": added,
            "normalizer": normalizeNFC ? ["type": "NFC"] : NSNull(),
            "pre_tokenizer": Tokenizer.json(preTokenizer),
            "post_processor": ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false],
            "decoder": ["type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true],
            "model": ["type": "BPE", "dropout": NSNull(), "unk_token": NSNull(), "continuing_subword_prefix": "", "end_of_word_suffix": "",
                      "fuse_unk": false, "byte_fallback": false, "ignore_merges": ignoreMerges,
                      "vocab": vocabObj, "merges": mergeList.map { [$0.0, $0.1] }] as [String: Any],
        ]
    }

    static func json(_ p: PreTokenizer) -> [String: Any] {
        switch p {
        case .byteLevel(let prefix, let regex): return ["type": "ByteLevel", "add_prefix_space": prefix, "trim_offsets": true, "use_regex": regex]
        case .digits(let individual): return ["type": "Digits", "individual_digits": individual]
        case .split(let pattern, let behavior, let invert): return ["type": "Split", "pattern": ["Regex": pattern], "behavior": behavior.rawValue, "invert": invert]
        case .sequence(let items): return ["type": "Sequence", "pretokenizers": items.map(json)]
        }
    }

    /// Writes tokenizer.json and tokenizer_config.json into `directory`.
    public func save(to directory: URL) throws {
        let json = try JSONSerialization.data(withJSONObject: tokenizerJSONObject(), options: [.sortedKeys])
        try json.write(to: directory.appendingPathComponent("tokenizer.json"), options: .atomic)
        var config: [String: Any] = ["tokenizer_class": "PreTrainedTokenizerFast", "add_bos_token": addBosToken, "clean_up_tokenization_spaces": false,
                                     "model_max_length": 1_000_000_000]
        if let b = bosTokenId, let t = token(b) { config["bos_token"] = t }
        if let e = eosTokenId, let t = token(e) { config["eos_token"] = t }
        if let p = padTokenId, let t = token(p) { config["pad_token"] = t }
        if let c = chatTemplate { config["chat_template"] = c }
        let data = try JSONSerialization.data(withJSONObject: config, options: [.sortedKeys, .prettyPrinted])
        try data.write(to: directory.appendingPathComponent("tokenizer_config.json"), options: .atomic)
    }
}
