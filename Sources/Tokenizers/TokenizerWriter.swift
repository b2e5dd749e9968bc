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
        var object: [String: Any] = [
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
        if let sp = sentencePiece { sentencePieceJSON(sp, into: &object) }
        return object
    }

    /// SentencePiece-style files as `tokenizers` writes them (Llama 2, Mistral, Gemma).
    private func sentencePieceJSON(_ sp: SentencePieceSettings, into object: inout [String: Any]) {
        let steps: [[String: Any]] = sp.normalizations.map {
            switch $0 {
            case .nfc: return ["type": "NFC"]
            case .prepend(let p): return ["type": "Prepend", "prepend": p]
            case .replace(let a, let b): return ["type": "Replace", "pattern": ["String": a], "content": b]
            }
        }
        object["normalizer"] = steps.isEmpty ? NSNull() : ["type": "Sequence", "normalizers": steps] as [String: Any]
        object["pre_tokenizer"] = sp.metaspacePrepend.map { ["type": "Metaspace", "replacement": "\u{2581}", "prepend_scheme": $0.rawValue, "split": sp.metaspaceSplit] as [String: Any] } ?? NSNull()
        var decoders: [[String: Any]] = [["type": "Replace", "pattern": ["String": "\u{2581}"], "content": " "], ["type": "ByteFallback"], ["type": "Fuse"]]
        if sp.stripLeadingSpace { decoders.append(["type": "Strip", "content": " ", "start": 1, "stop": 0]) }
        object["decoder"] = ["type": "Sequence", "decoders": decoders] as [String: Any]
        if addBosToken, let b = bosTokenId, let t = token(b) {
            object["post_processor"] = ["type": "TemplateProcessing", "single": [["SpecialToken": ["id": t, "type_id": 0]], ["Sequence": ["id": "A", "type_id": 0]]],
                                        "pair": [["SpecialToken": ["id": t, "type_id": 0]], ["Sequence": ["id": "A", "type_id": 0]], ["Sequence": ["id": "B", "type_id": 1]]],
                                        "special_tokens": [t: ["id": t, "ids": [b], "tokens": [t]]]] as [String: Any]
        } else {
            object["post_processor"] = NSNull()
        }
        var model = object["model"] as! [String: Any]
        model["byte_fallback"] = sp.byteFallback
        model["fuse_unk"] = sp.fuseUnk
        model["unk_token"] = sp.unkToken ?? NSNull()
        model["continuing_subword_prefix"] = NSNull(); model["end_of_word_suffix"] = NSNull()
        object["model"] = model
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
