import Support
import Foundation
import Models
import Tensor
import Tokenizers

public enum DataError: Error, CustomStringConvertible {
    case unreadable(String)
    case malformed(file: String, line: Int, reason: String)
    case empty(String)

    public var description: String {
        switch self {
        case .unreadable(let f): return "\(f): cannot read the file"
        case .malformed(let f, let l, let r): return "\(f):\(l): \(r)"
        case .empty(let f): return "\(f): no usable records"
        }
    }
}

/// One rendered SFT example: token ids and the loss mask (true where the model is trained).
public struct SFTExample: Sendable {
    public var ids: [Int]
    public var mask: [Bool]
    public var tokens: Int { ids.count }
    public var trainedTokens: Int { mask.filter { $0 }.count }
}

/// One rendered preference pair: a shared prompt and two completions (each ending with the
/// end-of-turn token), as TRL tokenizes them.
public struct PreferenceExample: Sendable {
    public var prompt: [Int]
    public var chosen: [Int]
    public var rejected: [Int]
    public var tokens: Int { prompt.count + max(chosen.count, rejected.count) }
}

/// Reads JSONL with TRL's field names and renders it with a chat template.
///
/// SFT: `{"messages": [...]}` (conversational) or `{"prompt": ..., "completion": ...}` (strings,
/// or message lists). Preference: `{"prompt", "chosen", "rejected"}`, strings or message lists;
/// a prompt ending with an assistant message is a partial assistant turn that the completions
/// continue (how process-level pairs share a reasoning prefix). Other fields (such as `meta`)
/// are ignored. Examples longer than `maxLength` are truncated from the end; those left with
/// nothing to train on are counted and dropped.
public struct DatasetReader {
    public let tokenizer: Tokenizer
    public let template: ChatTemplate
    public let maxLength: Int
    /// What preference completions end with: the template's end-of-turn token (found once).
    let endOfTurn: [Int]

    public init(tokenizer: Tokenizer, template: ChatTemplate, maxLength: Int) {
        self.tokenizer = tokenizer; self.template = template; self.maxLength = maxLength
        endOfTurn = template.endOfTurnTokenId(tokenizer: tokenizer).map { [$0] } ?? []
    }

    public struct Report: Sendable {
        public var read = 0, truncated = 0, dropped = 0

        /// A warning when examples were cut to `maxLength` (long reasoning chains lose their
        /// ends, answer included, without anything failing) or dropped; nil when none were.
        public func truncationWarning(maxLength: Int) -> String? {
            guard truncated > 0 || dropped > 0 else { return nil }
            var s = "warning: \(truncated) of \(read) examples are longer than max_length \(maxLength) tokens and were cut at the end"
            if dropped > 0 { s += ", \(dropped) of them with nothing left to train on (dropped)" }
            return s + "; raise max_length to train on them whole"
        }
    }

    /// A prompt or completion: a string or a list of messages.
    enum Turns: Decodable {
        case text(String)
        case messages([ChatMessage])
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let s = try? c.decode(String.self) { self = .text(s) } else { self = .messages(try c.decode([ChatMessage].self)) }
        }
    }

    struct SFTRecord: Decodable { var messages: [ChatMessage]?; var prompt: Turns?; var completion: Turns? }
    struct PreferenceRecord: Decodable { var prompt: Turns; var chosen: Turns; var rejected: Turns }

    static func lines(_ path: String) throws -> [(Int, Substring)] {
        guard let data = FileManager.default.contents(atPath: path) else { throw DataError.unreadable(path) }
        return try UTF8Text.decode(data, path: path).split(separator: "\n", omittingEmptySubsequences: false).enumerated()
            .filter { !$0.element.trimmingCharacters(in: .whitespaces).isEmpty }.map { ($0.offset + 1, $0.element) }
    }

    func decode<T: Decodable>(_ type: T.Type, _ line: Substring, file: String, number: Int) throws -> T {
        do { return try JSONDecoder().decode(T.self, from: Data(line.utf8)) } catch let e as DecodingError {
            throw DataError.malformed(file: file, line: number, reason: DecodingErrorText.describe(e))
        }
    }


    public func readSFT(_ path: String) throws -> ([SFTExample], Report) {
        var out: [SFTExample] = [], report = Report()
        for (number, line) in try Self.lines(path) {
            report.read += 1
            let r = try decode(SFTRecord.self, line, file: path, number: number)
            var messages: [ChatMessage]
            if let m = r.messages {
                messages = m
            } else if let p = r.prompt, let c = r.completion {
                messages = Self.messages(p, asRole: "user")
                messages += Self.messages(c, asRole: "assistant")
            } else {
                throw DataError.malformed(file: path, line: number, reason: "needs \"messages\", or \"prompt\" and \"completion\"")
            }
            var (ids, mask) = try render(messages, file: path, line: number)
            if ids.count > maxLength { ids.removeLast(ids.count - maxLength); mask.removeLast(mask.count - maxLength); report.truncated += 1 }
            // The first token is never a target (nothing precedes it).
            if !mask.dropFirst().contains(true) { report.dropped += 1; continue }
            out.append(SFTExample(ids: ids, mask: mask))
        }
        guard !out.isEmpty else { throw DataError.empty(path) }
        return (out, report)
    }

    public func readPreferences(_ path: String) throws -> ([PreferenceExample], Report) {
        var out: [PreferenceExample] = [], report = Report()
        for (number, line) in try Self.lines(path) {
            report.read += 1
            let r = try decode(PreferenceRecord.self, line, file: path, number: number)
            let promptMessages = Self.messages(r.prompt, asRole: "user")
            let partial = promptMessages.last?.role == "assistant"
            let prompt: [Int]
            do {
                prompt = try template.render(promptMessages, tokenizer: tokenizer, addGenerationPrompt: !partial, continueFinalMessage: partial).ids
            } catch { throw DataError.malformed(file: path, line: number, reason: "\(error)") }
            func completion(_ t: Turns) throws -> [Int] {
                switch t {
                case .text(let s): return tokenizer.encode(s, parseSpecial: false) + endOfTurn
                case .messages(let m):
                    guard m.allSatisfy({ $0.role == "assistant" }) else { throw DataError.malformed(file: path, line: number, reason: "chosen and rejected messages must be assistant messages") }
                    return tokenizer.encode(m.map(\.content).joined(), parseSpecial: false) + endOfTurn
                }
            }
            var chosen = try completion(r.chosen), rejected = try completion(r.rejected)
            if prompt.count >= maxLength { report.dropped += 1; continue }
            let room = maxLength - prompt.count
            if chosen.count > room || rejected.count > room { report.truncated += 1 }
            chosen = Array(chosen.prefix(room)); rejected = Array(rejected.prefix(room))
            out.append(PreferenceExample(prompt: prompt, chosen: chosen, rejected: rejected))
        }
        guard !out.isEmpty else { throw DataError.empty(path) }
        return (out, report)
    }

    static func messages(_ t: Turns, asRole role: String) -> [ChatMessage] {
        switch t {
        case .text(let s): return [ChatMessage(role: role, content: s)]
        case .messages(let m): return m
        }
    }

    func render(_ messages: [ChatMessage], file: String, line: Int) throws -> ([Int], [Bool]) {
        do { return try template.render(messages, tokenizer: tokenizer, requireLoss: true) } catch {
            throw DataError.malformed(file: file, line: line, reason: "\(error)")
        }
    }
}

extension DatasetReader {
    /// The training examples and the held-out ones: the eval file's, or a split of `eval_split`
    /// of the data drawn with the run's seed (none when it is 0). Both training engines hold
    /// out the same examples.
    public static func split<T>(_ records: (String) throws -> ([T], Report), data: String, evalData: String?,
                                options: TrainingOptions) throws -> (train: [T], held: [T], report: Report) {
        let (all, report) = try records(data)
        if let evalData { return (all, try records(evalData).0, report) }
        guard options.evalSplit > 0 else { return (all, [], report) }
        var rng = SplitMix64(seed: options.seed ^ 0x5EED)
        var idx = Array(all.indices)
        idx.shuffle(using: &rng)
        let n = max(1, Int(Double(all.count) * options.evalSplit))
        return (idx.dropFirst(n).sorted().map { all[$0] }, idx.prefix(n).sorted().map { all[$0] }, report)
    }
}
