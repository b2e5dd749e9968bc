import Foundation

public enum TokenizerError: Error, CustomStringConvertible {
    case invalid(source: String, reason: String)
    case unsupported(source: String, what: String)
    case unknownToken(String)

    public var description: String {
        switch self {
        case .invalid(let s, let r): return "\(s): invalid tokenizer: \(r)"
        case .unsupported(let s, let w): return "\(s): unsupported tokenizer: \(w)"
        case .unknownToken(let t): return "token '\(t)' is not in the vocabulary"
        }
    }
}

/// A BPE tokenizer, byte-level (GPT-2, Llama 3, Qwen2, SmolLM2) or SentencePiece-style (Llama 2,
/// Mistral, Gemma: `SentencePieceSettings`), encoding and decoding exactly as Hugging Face
/// `tokenizers` does for these models.
///
/// Encoding: added tokens (such as `<|im_start|>`) are cut out of the text first and map to
/// their ids; each remaining span is pre-tokenized into pieces; each piece, in the byte-level
/// alphabet, is merged by BPE in merge-rank order. Pieces repeat a lot, so their ids are cached.
public final class Tokenizer: @unchecked Sendable {
    public struct AddedToken: Sendable, Equatable {
        public var id: Int
        public var content: String
        public var special: Bool
        public init(id: Int, content: String, special: Bool) { self.id = id; self.content = content; self.special = special }
    }

    public let vocab: [String: Int]
    public let idToToken: [String]
    public let addedTokens: [AddedToken]
    public let preTokenizer: PreTokenizer
    /// Set for SentencePiece-style BPE ("▁" for spaces, byte fallback); nil for byte-level BPE.
    public let sentencePiece: SentencePieceSettings?
    /// (left id, right id) -> (rank, merged id)
    let merges: [Pair: (rank: Int, id: Int)]
    /// The id of each byte's byte-level symbol; nil for bytes the vocabulary lacks (SmolLM2
    /// has no symbol for 21 bytes that never occur in valid text). Like `tokenizers` without
    /// an unknown token, such symbols are dropped. For SentencePiece-style BPE, each byte's
    /// `<0xXX>` fallback token.
    let byteIds: [Int?]
    let specialIds: Set<Int>
    let addedTokenIds: Set<Int>
    /// The merges in rank order (for writing tokenizer.json back out).
    public let mergeList: [(String, String)]
    /// Added tokens longest first, so a longer token wins over its own prefix.
    let addedByLength: [AddedToken]
    /// First bytes of the added tokens: most positions cannot start one and are skipped fast.
    let addedFirstBytes: Set<UInt8>
    let regexCache = RegexCache()
    private var cache: [String: [Int]] = [:]
    private let cacheLock = NSLock()

    public var bosTokenId: Int?
    public var eosTokenId: Int?
    public var padTokenId: Int?
    /// The model's chat template (Jinja source), when the tokenizer files carry one.
    public var chatTemplate: String?
    /// Whether `encode(_:addSpecialTokens: true)` starts with BOS (Llama 3; not SmolLM2 or Qwen2).
    public var addBosToken = false
    /// Apply Unicode NFC before pre-tokenizing (Qwen2's normalizer).
    public var normalizeNFC = false
    /// Use a whole piece's own id when the vocabulary has it, before merging (Llama 3).
    public var ignoreMerges = false

    struct Pair: Hashable { let a: Int32, b: Int32 }

    public var vocabularySize: Int { idToToken.count }

    /// The largest vocabulary accepted (as `LlamaConfig.limits.vocab`).
    public static let maxTokenID = 1 << 22

    public init(vocab: [String: Int], merges mergeList: [(String, String)], addedTokens: [AddedToken], preTokenizer: PreTokenizer, source: String,
                sentencePiece: SentencePieceSettings? = nil) throws {
        var vocab = vocab
        for t in addedTokens { vocab[t.content] = t.id }
        // Ids index the id-to-token table: a negative or huge id from a corrupt file is an
        // error here, not a trap or a table of gigabytes.
        if let (token, id) = vocab.first(where: { !(0..<Self.maxTokenID).contains($0.value) }) {
            throw TokenizerError.invalid(source: source, reason: "token '\(token)' has id \(id), outside 0..<\(Self.maxTokenID)")
        }
        let size = (vocab.values.max() ?? -1) + 1
        var idToToken = [String](repeating: "", count: size)
        for (t, i) in vocab { idToToken[i] = t }
        self.vocab = vocab
        self.idToToken = idToToken
        self.addedTokens = addedTokens
        self.preTokenizer = preTokenizer
        var m: [Pair: (Int, Int)] = [:]
        m.reserveCapacity(mergeList.count)
        for (rank, (a, b)) in mergeList.enumerated() {
            guard let ia = vocab[a], let ib = vocab[b], let merged = vocab[a + b] else {
                throw TokenizerError.invalid(source: source, reason: "merge \(rank) ('\(a)' '\(b)') uses a token missing from the vocabulary")
            }
            let key = Pair(a: Int32(ia), b: Int32(ib))
            if m[key] == nil { m[key] = (rank, merged) }
        }
        merges = m
        self.sentencePiece = sentencePiece
        byteIds = sentencePiece == nil ? ByteLevel.byteToScalar.map { vocab[String($0)] } : Self.byteFallbackIds(vocab)
        guard sentencePiece != nil || byteIds.compactMap({ $0 }).count >= 128 else {
            throw TokenizerError.invalid(source: source, reason: "the vocabulary lacks most byte-level symbols: not a byte-level BPE tokenizer")
        }
        specialIds = Set(addedTokens.filter(\.special).map(\.id))
        addedTokenIds = Set(addedTokens.map(\.id))
        self.mergeList = mergeList
        addedByLength = addedTokens.filter { !$0.content.isEmpty }.sorted { $0.content.utf8.count > $1.content.utf8.count }
        addedFirstBytes = Set(addedByLength.compactMap { $0.content.utf8.first })
    }

    // MARK: encoding

    /// Token ids of `text`. Added tokens in the text are recognised (as `tokenizers` does by
    /// default); pass `parseSpecial: false` to encode them as plain text.
    public func encode(_ text: String, addSpecialTokens: Bool = false, parseSpecial: Bool = true) -> [Int] {
        var ids: [Int] = []
        if addSpecialTokens && addBosToken, let bos = bosTokenId { ids.append(bos) }
        if sentencePiece != nil { return ids + encodeWithOffsets(text, parseSpecial: parseSpecial).map(\.id) }
        let text = normalizeNFC ? text.precomposedStringWithCanonicalMapping : text
        for (span, added) in splitOnAddedTokens(text, enabled: parseSpecial) {
            if let added { ids.append(added); continue }
            ids.append(contentsOf: encodeOrdinary(span))
        }
        return ids
    }

    /// Token ids with the UTF-8 byte range of `text` each stands for (special tokens recognised).
    /// A span the normalizer changed (NFC) gets offsets in the normalized text, clamped to the span.
    public func encodeWithOffsets(_ text: String, parseSpecial: Bool = true) -> [(id: Int, start: Int, end: Int)] {
        var out: [(id: Int, start: Int, end: Int)] = []
        var offset = 0
        for (span, added) in splitOnAddedTokens(text, enabled: parseSpecial) {
            let spanBytes = span.utf8.count
            if let added { out.append((added, offset, offset + spanBytes)); offset += spanBytes; continue }
            if let sp = sentencePiece {
                out += sentencePieceEncode(span, atTextStart: span.startIndex == text.startIndex, sp).map { ($0.id, offset + $0.start, offset + $0.end) }
                offset += spanBytes
                continue
            }
            let normalized = normalizeNFC ? Substring(String(span).precomposedStringWithCanonicalMapping) : span
            var at = offset
            for id in encodeOrdinary(normalized) {
                let end = min(at + byteCount(of: id), offset + spanBytes)
                out.append((id, at, end))
                at = end
            }
            offset += spanBytes
        }
        return out
    }

    /// The text spans between added tokens, and the added tokens' ids, in order.
    func splitOnAddedTokens(_ text: String, enabled: Bool) -> [(Substring, Int?)] {
        guard enabled, !addedByLength.isEmpty else { return [(text[...], nil)] }
        var out: [(Substring, Int?)] = []
        let utf8 = text.utf8
        var spanStart = utf8.startIndex
        var i = utf8.startIndex
        while i < utf8.endIndex {
            var matched: AddedToken? = nil
            if addedFirstBytes.contains(utf8[i]) {
                matched = addedByLength.first { text.utf8[i...].starts(with: $0.content.utf8) }
            }
            if let t = matched {
                if spanStart < i { out.append((text[spanStart..<i], nil)) }
                let end = utf8.index(i, offsetBy: t.content.utf8.count)
                out.append((text[i..<end], t.id))
                i = end
                spanStart = end
            } else {
                i = utf8.index(after: i)
            }
        }
        if spanStart < utf8.endIndex { out.append((text[spanStart..<utf8.endIndex], nil)) }
        return out
    }

    func encodeOrdinary(_ text: Substring) -> [Int] {
        if text.isEmpty { return [] }
        let pieces: [Substring]
        do { pieces = try preTokenizer.split(text, cache: regexCache) } catch {
            preconditionFailure("pre-tokenizer pattern failed: \(error)")
        }
        let byteLevelDone = preTokenizer.mapsToByteLevel
        var ids: [Int] = []
        for piece in pieces where !piece.isEmpty {
            let key = byteLevelDone ? String(piece) : ByteLevel.encode(piece)
            cacheLock.lock()
            let cached = cache[key]
            cacheLock.unlock()
            if let cached { ids.append(contentsOf: cached); continue }
            let encoded = bpe(key)
            cacheLock.lock()
            if cache.count > 200_000 { cache.removeAll(keepingCapacity: true) }
            cache[key] = encoded
            cacheLock.unlock()
            ids.append(contentsOf: encoded)
        }
        return ids
    }

    /// BPE on one byte-level piece: start from single symbols, repeatedly merge the adjacent
    /// pair with the lowest merge rank.
    func bpe(_ piece: String) -> [Int] {
        if let whole = vocab[piece], ignoreMerges || piece.unicodeScalars.count == 1 { return [whole] }
        let symbols: [Symbol] = piece.unicodeScalars.compactMap { s in
            let id = ByteLevel.scalarToByte[s.value].flatMap { byteIds[Int($0)] } ?? vocab[String(s)]
            return id.map { Symbol(id: Int32($0), start: 0, end: 0) }
        }
        return merge(symbols).map { Int($0.id) }
    }

    /// A token of a piece being merged, with the source bytes it covers (SentencePiece's
    /// offsets; byte-level pieces leave them at 0).
    struct Symbol { var id: Int32; var start: Int; var end: Int }

    /// BPE: repeatedly merge the adjacent pair with the lowest merge rank, every non-overlapping
    /// occurrence of it left to right, until no pair has a merge.
    func merge(_ input: [Symbol]) -> [Symbol] {
        var symbols = input
        while symbols.count > 1 {
            var bestRank = Int.max, bestIndex = -1, bestId = 0
            for i in 0..<(symbols.count - 1) {
                if let m = merges[Pair(a: symbols[i].id, b: symbols[i + 1].id)], m.rank < bestRank {
                    bestRank = m.rank; bestIndex = i; bestId = m.id
                }
            }
            if bestIndex < 0 { break }
            let a = symbols[bestIndex].id, b = symbols[bestIndex + 1].id
            var merged: [Symbol] = []
            merged.reserveCapacity(symbols.count)
            var i = 0
            while i < symbols.count {
                if i + 1 < symbols.count && symbols[i].id == a && symbols[i + 1].id == b {
                    merged.append(Symbol(id: Int32(bestId), start: symbols[i].start, end: symbols[i + 1].end)); i += 2
                } else {
                    merged.append(symbols[i]); i += 1
                }
            }
            symbols = merged
        }
        return symbols
    }

    // MARK: decoding

    /// Text of `ids`; bytes that do not form valid UTF-8 become U+FFFD, as in `tokenizers`.
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = false) -> String {
        if let sp = sentencePiece { return sentencePieceDecode(ids, skipSpecialTokens: skipSpecialTokens, sp) }
        var bytes: [UInt8] = []
        for id in ids {
            guard id >= 0 && id < idToToken.count else { continue }
            if skipSpecialTokens && specialIds.contains(id) { continue }
            if addedTokenIds.contains(id) {
                bytes.append(contentsOf: idToToken[id].utf8)
            } else {
                ByteLevel.decode(idToToken[id], into: &bytes)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }


    /// How many bytes of text a token stands for.
    public func byteCount(of id: Int) -> Int {
        guard let t = token(id) else { return 0 }
        if addedTokenIds.contains(id) { return t.utf8.count }
        if sentencePiece != nil { return byteValue(of: id) != nil ? 1 : t.replacingOccurrences(of: String(SentencePieceSettings.space), with: " ").utf8.count }
        var bytes: [UInt8] = []
        ByteLevel.decode(t, into: &bytes)
        return bytes.count
    }

    /// The token string of an id (in the byte-level alphabet).
    public func token(_ id: Int) -> String? { id >= 0 && id < idToToken.count ? idToToken[id] : nil }

    public func id(of token: String) -> Int? { vocab[token] }

    public func isSpecial(_ id: Int) -> Bool { specialIds.contains(id) }
}
