import Foundation

/// The SaRO output format: a reasoning block between two tags, then the final answer.
///
///     <think>
///     reasoning ...
///     </think>
///     final answer
public struct ResponseFormat: Codable, Sendable, Equatable {
    public var open: String
    public var close: String

    public init(open: String = "<think>", close: String = "</think>") { self.open = open; self.close = close }
    public static let standard = ResponseFormat()

    public struct Parts: Sendable, Equatable {
        /// The text between the tags (nil when there is no closing tag).
        public var reasoning: String?
        /// The text after the closing tag; the whole response when the tag is missing.
        public var answer: String
        /// Exactly one opening tag at the start, one closing tag after it, and a non-empty
        /// reasoning and answer.
        public var wellFormed: Bool
    }

    public func parse(_ response: String) -> Parts {
        guard let closeRange = response.range(of: close) else {
            return Parts(reasoning: nil, answer: response.trimmingCharacters(in: .whitespacesAndNewlines), wellFormed: false)
        }
        let before = String(response[..<closeRange.lowerBound])
        let answer = String(response[closeRange.upperBound...]).trimmingCharacters(in: .whitespacesAndNewlines)
        let trimmedBefore = before.trimmingCharacters(in: .whitespacesAndNewlines)
        var reasoning = trimmedBefore
        let startsWithOpen = trimmedBefore.hasPrefix(open)
        if startsWithOpen { reasoning = String(trimmedBefore.dropFirst(open.count)).trimmingCharacters(in: .whitespacesAndNewlines) }
        let single = response.components(separatedBy: open).count == 2 && response.components(separatedBy: close).count == 2
        return Parts(reasoning: reasoning, answer: answer, wellFormed: startsWithOpen && single && !reasoning.isEmpty && !answer.isEmpty)
    }

    /// A response in this format.
    public func render(reasoning: String, answer: String) -> String {
        "\(open)\n\(reasoning.trimmingCharacters(in: .whitespacesAndNewlines))\n\(close)\n\n\(answer.trimmingCharacters(in: .whitespacesAndNewlines))"
    }

    /// Reasoning steps: the paragraphs of the reasoning block (blank-line separated).
    public static func steps(of reasoning: String) -> [String] {
        reasoning.components(separatedBy: "\n\n").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
    }
}
