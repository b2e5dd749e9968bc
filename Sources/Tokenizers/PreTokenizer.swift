import Foundation

/// Pre-tokenization: splitting text into the pieces BPE encodes one at a time, as Hugging Face
/// `tokenizers` does. Patterns are compiled with Swift Regex on Unicode scalars (not grapheme
/// clusters, which would glue "\r\n" or an emoji sequence into one unit).
public indirect enum PreTokenizer: Sendable {
    /// Split on a regex; each match and each gap between matches is a piece ("Isolated"), or
    /// only the matches when the gaps are removed. With `invert`, gaps and matches swap roles.
    case split(pattern: String, behavior: SplitBehavior, invert: Bool)
    /// Byte-level: optionally split with GPT-2's pattern, then map bytes to the byte alphabet.
    case byteLevel(addPrefixSpace: Bool, useRegex: Bool)
    /// Each digit (individual) or each run of digits becomes its own piece.
    case digits(individual: Bool)
    case sequence([PreTokenizer])

    public enum SplitBehavior: String, Sendable { case isolated = "Isolated", removed = "Removed", mergedWithPrevious = "MergedWithPrevious", mergedWithNext = "MergedWithNext", contiguous = "Contiguous" }

    /// GPT-2's pattern, used by ByteLevel(use_regex: true).
    public static let gpt2Pattern = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
    /// Llama 3's split pattern (numbers in groups of up to three).
    public static let llama3Pattern = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    /// Qwen2's split pattern (single digits).
    public static let qwen2Pattern = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    /// Whether the pieces come out in the byte-level alphabet (then BPE must not map again).
    var mapsToByteLevel: Bool {
        switch self {
        case .byteLevel: return true
        case .sequence(let items): return items.contains { $0.mapsToByteLevel }
        default: return false
        }
    }

    /// The pieces of `text`, in order.
    func split(_ text: Substring, cache: RegexCache) throws -> [Substring] {
        switch self {
        case .split(let pattern, let behavior, let invert):
            return try Self.regexSplit(text, regex: cache.regex(pattern), behavior: behavior, invert: invert)
        case .byteLevel(let prefix, let useRegex):
            var base = text
            if prefix, let f = base.unicodeScalars.first, f != " " { base = Substring(" " + base) }
            let pieces = useRegex ? try Self.regexSplit(base, regex: cache.regex(Self.gpt2Pattern), behavior: .isolated, invert: false) : [base]
            return pieces.map { Substring(ByteLevel.encode($0)) }
        case .digits(let individual):
            var out: [Substring] = []
            var start = text.unicodeScalars.startIndex
            var i = start
            let scalars = text.unicodeScalars
            var inDigits = false
            while i < scalars.endIndex {
                let isDigit = scalars[i].properties.numericType == .decimal
                if isDigit && (individual || !inDigits) || (!isDigit && inDigits) {
                    if i > start { out.append(Substring(scalars[start..<i])) }
                    start = i
                }
                inDigits = isDigit
                i = scalars.index(after: i)
            }
            if start < scalars.endIndex { out.append(Substring(scalars[start..<scalars.endIndex])) }
            return out
        case .sequence(let items):
            var pieces = [text]
            for p in items { pieces = try pieces.flatMap { try p.split($0, cache: cache) } }
            return pieces
        }
    }

    static func regexSplit(_ text: Substring, regex: Regex<AnyRegexOutput>, behavior: SplitBehavior, invert: Bool) throws -> [Substring] {
        var matches: [Range<String.Index>] = []
        for m in text.matches(of: regex) where !m.range.isEmpty { matches.append(m.range) }
        // Gaps and matches in order, each tagged with whether it is a match.
        var parts: [(Range<String.Index>, Bool)] = []
        var cursor = text.startIndex
        for r in matches {
            if cursor < r.lowerBound { parts.append((cursor..<r.lowerBound, false)) }
            parts.append((r, true))
            cursor = r.upperBound
        }
        if cursor < text.endIndex { parts.append((cursor..<text.endIndex, false)) }
        if invert { parts = parts.map { ($0.0, !$0.1) } }
        switch behavior {
        case .isolated: return parts.map { text[$0.0] }
        case .removed: return parts.filter { !$0.1 }.map { text[$0.0] }
        case .mergedWithPrevious:
            var out: [Range<String.Index>] = []
            for (r, isMatch) in parts {
                if isMatch, let last = out.last { out[out.count - 1] = last.lowerBound..<r.upperBound } else { out.append(r) }
            }
            return out.map { text[$0] }
        case .mergedWithNext:
            var out: [Range<String.Index>] = []
            var pending: String.Index? = nil
            for (r, isMatch) in parts {
                if isMatch { if pending == nil { pending = r.lowerBound } ; continue }
                out.append((pending ?? r.lowerBound)..<r.upperBound)
                pending = nil
            }
            if let p = pending { out.append(p..<text.endIndex) }
            return out.map { text[$0] }
        case .contiguous:
            var out: [(Range<String.Index>, Bool)] = []
            for (r, isMatch) in parts {
                if let last = out.last, last.1 == isMatch, isMatch { out[out.count - 1] = (last.0.lowerBound..<r.upperBound, true) } else { out.append((r, isMatch)) }
            }
            return out.map { text[$0.0] }
        }
    }
}

/// Compiled patterns, shared by a tokenizer's calls.
final class RegexCache: @unchecked Sendable {
    private var compiled: [String: Regex<AnyRegexOutput>] = [:]
    private let lock = NSLock()

    func regex(_ pattern: String) throws -> Regex<AnyRegexOutput> {
        lock.lock(); defer { lock.unlock() }
        if let r = compiled[pattern] { return r }
        let r = try Regex(pattern).matchingSemantics(.unicodeScalar)
        compiled[pattern] = r
        return r
    }
}
