/// SentencePiece-style BPE in tokenizer.json (Llama 2, Mistral, Gemma): spaces become "▁"
/// (a normalizer or the Metaspace pre-tokenizer), a "▁" may be put before the text, BPE merges
/// Unicode characters, and a character the vocabulary lacks falls back to its UTF-8 bytes as
/// `<0xXX>` tokens (or to the unknown token). Encoding and decoding follow Hugging Face
/// `tokenizers`.
public struct SentencePieceSettings: Sendable, Equatable {
    public static let space: Unicode.Scalar = "\u{2581}"

    /// One step of the normalizer, in order.
    public enum Normalization: Sendable, Equatable {
        /// Prepend a string to every non-empty segment (Llama 2's legacy "▁").
        case prepend(String)
        case replace(String, String)
        case nfc
    }

    public enum PrependScheme: String, Sendable { case always, first, never }

    public var normalizations: [Normalization] = []
    /// The Metaspace pre-tokenizer, when there is one: spaces to "▁", a "▁" before the text by
    /// this scheme, and with `metaspaceSplit` a piece per word (each starting at its "▁").
    public var metaspacePrepend: PrependScheme?
    public var metaspaceSplit = false
    public var byteFallback = true
    public var unkToken: String?
    public var fuseUnk = true
    /// Decoding drops one leading space (the decoders' Strip or Metaspace step).
    public var stripLeadingSpace = true

    public init() {}
}

extension Tokenizer {
    /// A character of the normalized text and the UTF-8 bytes of the original it came from.
    struct NormalizedScalar { var scalar: Unicode.Scalar; var source: Range<Int> }

    /// Ids with their byte ranges in `segment` (a text between added tokens; `atTextStart` when
    /// it begins the whole text, which Metaspace's "first" scheme asks).
    func sentencePieceEncode(_ segment: Substring, atTextStart: Bool, _ settings: SentencePieceSettings) -> [(id: Int, start: Int, end: Int)] {
        var chars: [NormalizedScalar] = []
        var offset = 0
        for s in segment.unicodeScalars {
            let n = String(s).utf8.count
            chars.append(NormalizedScalar(scalar: s, source: offset..<(offset + n)))
            offset += n
        }
        for step in settings.normalizations {
            switch step {
            case .prepend(let p): if !chars.isEmpty { chars.insert(contentsOf: p.unicodeScalars.map { NormalizedScalar(scalar: $0, source: 0..<0) }, at: 0) }
            case .replace(let pattern, let content): chars = Self.replace(chars, pattern, content)
            case .nfc:
                let text = String(String.UnicodeScalarView(chars.map(\.scalar)))
                let composed = text.precomposedStringWithCanonicalMapping
                if composed != text {
                    // Offsets after composition are approximate: each character keeps the range of the one at its index.
                    let old = chars
                    chars = composed.unicodeScalars.enumerated().map { NormalizedScalar(scalar: $1, source: old[min($0, old.count - 1)].source) }
                }
            }
        }
        var pieces = [chars]
        if let scheme = settings.metaspacePrepend {
            chars = Self.replace(chars, " ", String(SentencePieceSettings.space))
            let prepend = scheme == .always || (scheme == .first && atTextStart)
            if prepend, chars.first?.scalar != SentencePieceSettings.space, !chars.isEmpty { chars.insert(NormalizedScalar(scalar: SentencePieceSettings.space, source: 0..<0), at: 0) }
            pieces = [chars]
            if settings.metaspaceSplit {
                pieces = []
                for c in chars {
                    if c.scalar == SentencePieceSettings.space || pieces.isEmpty { pieces.append([c]) } else { pieces[pieces.count - 1].append(c) }
                }
            }
        }
        return pieces.flatMap { mergePiece($0, settings) }
    }

    static func replace(_ chars: [NormalizedScalar], _ pattern: String, _ content: String) -> [NormalizedScalar] {
        let p = Array(pattern.unicodeScalars)
        guard !p.isEmpty else { return chars }
        var out: [NormalizedScalar] = [], i = 0
        while i < chars.count {
            if i + p.count <= chars.count, chars[i..<(i + p.count)].map(\.scalar) == p {
                let source = chars[i].source.lowerBound..<chars[i + p.count - 1].source.upperBound
                out += content.unicodeScalars.map { NormalizedScalar(scalar: $0, source: source) }
                i += p.count
            } else { out.append(chars[i]); i += 1 }
        }
        return out
    }

    /// BPE over one piece's characters, each symbol keeping the source bytes it covers.
    private func mergePiece(_ piece: [NormalizedScalar], _ settings: SentencePieceSettings) -> [(id: Int, start: Int, end: Int)] {
        var symbols: [Symbol] = []
        let unk = settings.unkToken.flatMap { vocab[$0] }
        var lastWasUnk = false
        for c in piece {
            let (start, end) = (c.source.lowerBound, c.source.upperBound)
            if let id = vocab[String(c.scalar)] {
                symbols.append(Symbol(id: Int32(id), start: start, end: end)); lastWasUnk = false
            } else if settings.byteFallback, case let ids = Array(String(c.scalar).utf8).map({ byteIds[Int($0)] }), ids.allSatisfy({ $0 != nil }) {
                for id in ids { symbols.append(Symbol(id: Int32(id!), start: start, end: end)) }
                lastWasUnk = false
            } else if let unk {
                if settings.fuseUnk && lastWasUnk { symbols[symbols.count - 1].end = end } else { symbols.append(Symbol(id: Int32(unk), start: start, end: end)) }
                lastWasUnk = true
            }
        }
        return merge(symbols).map { (Int($0.id), $0.start, $0.end) }
    }

    /// The text of `ids`: "▁" back to spaces, runs of byte tokens back to UTF-8 (each byte of an
    /// invalid run a U+FFFD, as `tokenizers`' ByteFallback), one leading space dropped.
    func sentencePieceDecode(_ ids: [Int], skipSpecialTokens: Bool, _ settings: SentencePieceSettings) -> String {
        var out = "", pendingBytes: [UInt8] = []
        func flush() {
            guard !pendingBytes.isEmpty else { return }
            if let s = String(validating: pendingBytes, as: UTF8.self) { out += s } else { out += String(repeating: "\u{FFFD}", count: pendingBytes.count) }
            pendingBytes = []
        }
        for id in ids {
            guard id >= 0 && id < idToToken.count else { continue }
            if skipSpecialTokens && specialIds.contains(id) { continue }
            if let byte = byteValue(of: id) { pendingBytes.append(byte); continue }
            flush()
            out += addedTokenIds.contains(id) ? idToToken[id] : idToToken[id].replacingOccurrences(of: String(SentencePieceSettings.space), with: " ")
        }
        flush()
        if settings.stripLeadingSpace, out.hasPrefix(" ") { out.removeFirst() }
        return out
    }

    /// The byte a `<0xXX>` token stands for.
    func byteValue(of id: Int) -> UInt8? {
        let t = idToToken[id].utf8
        guard t.count == 6, t.starts(with: "<0x".utf8), t.last == UInt8(ascii: ">") else { return nil }
        return UInt8(String(decoding: Array(t)[3..<5], as: UTF8.self), radix: 16)
    }

    /// The `<0xXX>` token ids, indexed by byte.
    static func byteFallbackIds(_ vocab: [String: Int]) -> [Int?] {
        (0..<256).map { vocab["<0x" + String($0, radix: 16, uppercase: true).leftPadded(2) + ">"] }
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
