import Foundation

/// Loading Hugging Face `tokenizer.json` (and `tokenizer_config.json` beside it) for byte-level
/// BPE models and SentencePiece-style BPE ones (Metaspace or "▁" normalizers, byte fallback).
/// Anything the encoder would not reproduce exactly (another model type, an unknown normalizer
/// or pre-tokenizer) is refused with the reason.
extension Tokenizer {
    public convenience init(tokenizerJSON url: URL) throws {
        let source = url.path
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw TokenizerError.invalid(source: source, reason: "cannot read: \((error as NSError).localizedDescription)")
        }
        guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw TokenizerError.invalid(source: source, reason: "not a JSON object")
        }
        guard let model = root["model"] as? [String: Any], (model["type"] as? String ?? "BPE") == "BPE" else {
            throw TokenizerError.unsupported(source: source, what: "model type \((root["model"] as? [String: Any])?["type"] ?? "missing") (only BPE)")
        }
        guard let vocabObj = model["vocab"] as? [String: Any] else { throw TokenizerError.invalid(source: source, reason: "model.vocab missing") }
        var vocab: [String: Int] = [:]
        vocab.reserveCapacity(vocabObj.count)
        for (k, v) in vocabObj {
            guard let i = (v as? NSNumber)?.intValue else { throw TokenizerError.invalid(source: source, reason: "vocab entry '\(k)' has no integer id") }
            vocab[k] = i
        }
        var merges: [(String, String)] = []
        for (i, m) in ((model["merges"] as? [Any]) ?? []).enumerated() {
            if let s = m as? String {
                let parts = s.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
                guard parts.count == 2 else { throw TokenizerError.invalid(source: source, reason: "merge \(i) '\(s)' is not two tokens") }
                merges.append((String(parts[0]), String(parts[1])))
            } else if let pair = m as? [String], pair.count == 2 {
                merges.append((pair[0], pair[1]))
            } else {
                throw TokenizerError.invalid(source: source, reason: "merge \(i) is neither 'a b' nor [a, b]")
            }
        }
        let added = ((root["added_tokens"] as? [[String: Any]]) ?? []).compactMap { t -> AddedToken? in
            guard let id = (t["id"] as? NSNumber)?.intValue, let content = t["content"] as? String else { return nil }
            return AddedToken(id: id, content: content, special: t["special"] as? Bool ?? false)
        }
        let normalizations = try Tokenizer.parseNormalizer(root["normalizer"], source: source)
        let sentencePiece = try Tokenizer.sentencePieceSettings(root: root, model: model, normalizations: normalizations, source: source)
        let pre = sentencePiece == nil ? try Tokenizer.parsePreTokenizer(root["pre_tokenizer"], source: source) : .sequence([])
        if sentencePiece == nil, let other = normalizations.first(where: { $0 != .nfc }) {
            throw TokenizerError.unsupported(source: source, what: "normalizer step \(other) in a byte-level tokenizer (only NFC)")
        }
        try self.init(vocab: vocab, merges: merges, addedTokens: added, preTokenizer: pre, source: source, sentencePiece: sentencePiece)
        normalizeNFC = sentencePiece == nil && normalizations.contains(.nfc)
        ignoreMerges = model["ignore_merges"] as? Bool ?? false
        // A template post-processor that starts with a special token adds BOS (Llama 3).
        if let post = root["post_processor"] as? [String: Any] {
            let templates = post["type"] as? String == "Sequence" ? (post["processors"] as? [[String: Any]] ?? []) : [post]
            for t in templates where t["type"] as? String == "TemplateProcessing" {
                if let first = (t["single"] as? [[String: Any]])?.first, let sp = first["SpecialToken"] as? [String: Any],
                   let name = sp["id"] as? String, let id = vocab[name] ?? added.first(where: { $0.content == name })?.id {
                    bosTokenId = id
                    addBosToken = true
                }
            }
        }
        try readTokenizerConfig(url.deletingLastPathComponent().appendingPathComponent("tokenizer_config.json"))
    }

    /// Special token names and the chat template from tokenizer_config.json, when present.
    func readTokenizerConfig(_ url: URL) throws {
        guard let data = try? Data(contentsOf: url) else { return }
        guard let cfg = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw TokenizerError.invalid(source: url.path, reason: "not a JSON object")
        }
        func tokenId(_ key: String) -> Int? {
            if let s = cfg[key] as? String { return vocab[s] }
            if let o = cfg[key] as? [String: Any], let s = o["content"] as? String { return vocab[s] }
            return nil
        }
        bosTokenId = tokenId("bos_token") ?? bosTokenId
        eosTokenId = tokenId("eos_token") ?? eosTokenId
        padTokenId = tokenId("pad_token") ?? padTokenId
        if let add = cfg["add_bos_token"] as? Bool { addBosToken = add }
        if let t = cfg["chat_template"] as? String {
            chatTemplate = t
        } else if let list = cfg["chat_template"] as? [[String: Any]] {
            chatTemplate = list.first { $0["name"] as? String == "default" }?["template"] as? String
        }
    }

    /// The normalizer's steps: NFC, Prepend, Replace of a literal string, or a Sequence of them.
    static func parseNormalizer(_ obj: Any?, source: String) throws -> [SentencePieceSettings.Normalization] {
        guard let n = obj as? [String: Any] else {
            if obj == nil || obj is NSNull { return [] }
            throw TokenizerError.invalid(source: source, reason: "normalizer is not an object")
        }
        switch n["type"] as? String {
        case "NFC": return [.nfc]
        case "Prepend":
            guard let p = n["prepend"] as? String else { throw TokenizerError.invalid(source: source, reason: "Prepend normalizer without 'prepend'") }
            return [.prepend(p)]
        case "Replace":
            guard let pattern = (n["pattern"] as? [String: Any])?["String"] as? String, let content = n["content"] as? String else {
                throw TokenizerError.unsupported(source: source, what: "Replace normalizer with a regex pattern (only a literal String)")
            }
            return [.replace(pattern, content)]
        case "Sequence":
            return try (n["normalizers"] as? [Any] ?? []).flatMap { try parseNormalizer($0, source: source) }
        default:
            throw TokenizerError.unsupported(source: source, what: "normalizer \(n["type"] ?? "?") (only NFC, Prepend, Replace and Sequence)")
        }
    }

    /// SentencePiece-style settings when the file is one (byte fallback, a Metaspace
    /// pre-tokenizer, or "▁" put in by the normalizer); nil for byte-level BPE.
    static func sentencePieceSettings(root: [String: Any], model: [String: Any], normalizations: [SentencePieceSettings.Normalization],
                                      source: String) throws -> SentencePieceSettings? {
        let pre = root["pre_tokenizer"] as? [String: Any]
        let metaspace = pre?["type"] as? String == "Metaspace"
        let spaceNormalizer = normalizations.contains { if case .nfc = $0 { return false } else { return true } }
        guard model["byte_fallback"] as? Bool == true || metaspace || spaceNormalizer else { return nil }
        if let pre, !metaspace { throw TokenizerError.unsupported(source: source, what: "pre-tokenizer \(pre["type"] ?? "?") with SentencePiece-style BPE (only Metaspace or none)") }
        var sp = SentencePieceSettings()
        sp.normalizations = normalizations
        sp.byteFallback = model["byte_fallback"] as? Bool ?? false
        sp.unkToken = model["unk_token"] as? String
        sp.fuseUnk = model["fuse_unk"] as? Bool ?? false
        if let pre {
            guard (pre["replacement"] as? String ?? "\u{2581}") == "\u{2581}" else { throw TokenizerError.unsupported(source: source, what: "Metaspace replacement other than U+2581") }
            if let scheme = pre["prepend_scheme"] as? String {
                guard let s = SentencePieceSettings.PrependScheme(rawValue: scheme) else { throw TokenizerError.unsupported(source: source, what: "Metaspace prepend_scheme \(scheme)") }
                sp.metaspacePrepend = s
            } else {
                sp.metaspacePrepend = (pre["add_prefix_space"] as? Bool ?? true) ? .always : .never
            }
            sp.metaspaceSplit = pre["split"] as? Bool ?? true
        }
        // Decoding drops the space the encoder put before the text: Llama 2's Strip step, or a
        // Metaspace decoder that prepends.
        let decoder = root["decoder"] as? [String: Any]
        let steps = decoder?["type"] as? String == "Sequence" ? (decoder?["decoders"] as? [[String: Any]] ?? []) : decoder.map { [$0] } ?? []
        sp.stripLeadingSpace = steps.contains { d in
            switch d["type"] as? String {
            case "Strip": return (d["start"] as? Int ?? 0) > 0
            case "Metaspace": return (d["prepend_scheme"] as? String ?? ((d["add_prefix_space"] as? Bool ?? true) ? "always" : "never")) != "never"
            default: return false
            }
        }
        return sp
    }

    static func parsePreTokenizer(_ obj: Any?, source: String) throws -> PreTokenizer {
        guard let o = obj as? [String: Any] else {
            if obj == nil || obj is NSNull { return .byteLevel(addPrefixSpace: false, useRegex: false) }
            throw TokenizerError.invalid(source: source, reason: "pre_tokenizer is not an object")
        }
        switch o["type"] as? String {
        case "ByteLevel":
            return .byteLevel(addPrefixSpace: o["add_prefix_space"] as? Bool ?? false, useRegex: o["use_regex"] as? Bool ?? true)
        case "Digits":
            return .digits(individual: o["individual_digits"] as? Bool ?? false)
        case "Split":
            let p = o["pattern"] as? [String: Any]
            let pattern: String
            if let r = p?["Regex"] as? String { pattern = r } else if let s = p?["String"] as? String { pattern = NSRegularExpression.escapedPattern(for: s) } else {
                throw TokenizerError.invalid(source: source, reason: "Split pre-tokenizer without a pattern")
            }
            guard let behavior = PreTokenizer.SplitBehavior(rawValue: o["behavior"] as? String ?? "Isolated") else {
                throw TokenizerError.unsupported(source: source, what: "Split behavior \(o["behavior"] ?? "?")")
            }
            do { _ = try Regex(pattern) } catch { throw TokenizerError.unsupported(source: source, what: "split pattern \(pattern): \(error)") }
            return .split(pattern: pattern, behavior: behavior, invert: o["invert"] as? Bool ?? false)
        case "Sequence":
            return .sequence(try (o["pretokenizers"] as? [Any] ?? []).map { try parsePreTokenizer($0, source: source) })
        default:
            throw TokenizerError.unsupported(source: source, what: "pre-tokenizer \(o["type"] ?? "?")")
        }
    }
}
