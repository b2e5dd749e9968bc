/// Splits template source into text, `{{ output }}` and `{% statement %}` segments, with the
/// whitespace rules Hugging Face renders chat templates under: Jinja2 with `trim_blocks` (the
/// newline after a block or comment tag is dropped) and `lstrip_blocks` (spaces and tabs from a
/// line's start up to a block or comment tag are dropped), plus the `-` and `+` markers.
struct Lexer {
    enum Token: Equatable, CustomStringConvertible {
        case name(String)
        case string(String)
        case int(Int)
        case float(Double)
        case op(String)

        var description: String {
            switch self {
            case .name(let n): return n
            case .string(let s): return "'\(s)'"
            case .int(let i): return String(i)
            case .float(let d): return String(d)
            case .op(let o): return o
            }
        }
    }

    enum Segment {
        case text(String)
        case output([Token], line: Int)
        case statement([Token], line: Int)
    }

    let source: [Unicode.Scalar]
    var pos = 0
    var line = 1

    /// Jinja2 drops one newline at the end of the source (`keep_trailing_newline` is off).
    init(_ text: String) {
        var s = Array(text.unicodeScalars)
        if s.last == "\n" { s.removeLast(); if s.last == "\r" { s.removeLast() } }
        source = s
    }

    static func segments(_ text: String) throws -> [Segment] {
        var lexer = Lexer(text)
        return try lexer.run()
    }

    private func at(_ s: String, _ i: Int) -> Bool {
        var j = i
        for c in s.unicodeScalars {
            guard j < source.count, source[j] == c else { return false }
            j += 1
        }
        return true
    }

    private func text(_ range: Range<Int>) -> String {
        var v = String.UnicodeScalarView()
        v.append(contentsOf: source[range])
        return String(v)
    }

    private mutating func advance(to end: Int) {
        while pos < end { if source[pos] == "\n" { line += 1 }; pos += 1 }
    }

    mutating func run() throws -> [Segment] {
        var out: [Segment] = []
        var lineStarting = true
        while pos < source.count {
            // The next tag opening.
            var open = pos
            while open < source.count, !(source[open] == "{" && open + 1 < source.count && "{%#".unicodeScalars.contains(source[open + 1])) { open += 1 }
            var chunk = Array(source[pos..<open])
            let kind = open < source.count ? source[open + 1] : nil
            let marker = open + 2 < source.count ? source[open + 2] : nil
            if let kind {
                if marker == "-" {
                    while let last = chunk.last, PythonText.isSpace(last) { chunk.removeLast() }
                } else if marker != "+" && kind != "{" {
                    // lstrip_blocks: only whitespace between the line's start and the tag.
                    let lineStart = (chunk.lastIndex(of: "\n").map { $0 + 1 }) ?? 0
                    if lineStart > 0 || lineStarting, lineStart < chunk.count, chunk[lineStart...].allSatisfy({ PythonText.isSpace($0) }) {
                        chunk.removeSubrange(lineStart...)
                    }
                }
            }
            if !chunk.isEmpty {
                var v = String.UnicodeScalarView(); v.append(contentsOf: chunk)
                out.append(.text(String(v)))
            }
            advance(to: open)
            guard let kind else { break }
            let tagLine = line
            advance(to: open + 2 + (marker == "-" || marker == "+" ? 1 : 0))
            switch kind {
            case "#":
                var end = pos
                while end < source.count, !at("#}", end) { end += 1 }
                guard end < source.count else { throw TemplateError(line: tagLine, "a comment opened here is never closed with #}") }
                let trim = end > pos ? source[end - 1] : nil
                advance(to: end + 2)
                lineStarting = closeTag(trim: trim, trimBlocks: true)
            case "{":
                let tokens = try expressionTokens(until: "}}", tagLine: tagLine)
                out.append(.output(tokens.tokens, line: tagLine))
                lineStarting = closeTag(trim: tokens.marker, trimBlocks: false)
            default:
                let tokens = try expressionTokens(until: "%}", tagLine: tagLine)
                out.append(.statement(tokens.tokens, line: tagLine))
                lineStarting = closeTag(trim: tokens.marker, trimBlocks: true)
            }
        }
        return out
    }

    /// After a tag's closing: `-` drops all following whitespace, trim_blocks one newline.
    /// Returns whether what was consumed ends a line (Jinja2's `line_starting`).
    private mutating func closeTag(trim: Unicode.Scalar?, trimBlocks: Bool) -> Bool {
        if trim == "-" {
            var end = pos
            while end < source.count, PythonText.isSpace(source[end]) { end += 1 }
            let newline = end > pos && source[end - 1] == "\n"
            advance(to: end)
            return newline
        }
        if trim != "+", trimBlocks, pos < source.count, source[pos] == "\n" {
            advance(to: pos + 1)
            return true
        }
        return false
    }

    /// The tokens of a tag's expression up to `close`, and the `-` or `+` before it.
    private mutating func expressionTokens(until close: String, tagLine: Int) throws -> (tokens: [Token], marker: Unicode.Scalar?) {
        var tokens: [Token] = []
        while true {
            while pos < source.count, PythonText.isSpace(source[pos]) { advance(to: pos + 1) }
            guard pos < source.count else { throw TemplateError(line: tagLine, "a tag opened here is never closed with \(close)") }
            for marker in ["-", "+", ""] where at(marker + close, pos) {
                advance(to: pos + marker.unicodeScalars.count + 2)
                return (tokens, marker.unicodeScalars.first)
            }
            let c = source[pos]
            if c == "_" || c.properties.isAlphabetic && c.isASCII {
                var end = pos
                while end < source.count, source[end] == "_" || (source[end].isASCII && (source[end].properties.isAlphabetic || ("0"..."9").contains(source[end]))) { end += 1 }
                tokens.append(.name(text(pos..<end)))
                advance(to: end)
            } else if ("0"..."9").contains(c) {
                tokens.append(try number(afterDot: tokens.last == .op("."), tagLine: tagLine))
            } else if c == "'" || c == "\"" {
                tokens.append(.string(try string(quote: c, tagLine: tagLine)))
            } else if let op = ["//", "**", "==", "!=", "<=", ">="].first(where: { at($0, pos) }) {
                tokens.append(.op(op)); advance(to: pos + 2)
            } else if "+-*/%~<>=()[]{},.:|;".unicodeScalars.contains(c) {
                tokens.append(.op(String(c))); advance(to: pos + 1)
            } else {
                throw TemplateError(line: line, "unexpected character '\(c)'")
            }
        }
    }

    private mutating func number(afterDot: Bool, tagLine: Int) throws -> Token {
        var end = pos
        func digits() { while end < source.count, ("0"..."9").contains(source[end]) || source[end] == "_" { end += 1 } }
        digits()
        var isFloat = false
        if !afterDot, end + 1 < source.count, source[end] == ".", ("0"..."9").contains(source[end + 1]) { isFloat = true; end += 1; digits() }
        if !afterDot, end < source.count, source[end] == "e" || source[end] == "E" {
            var e = end + 1
            if e < source.count, source[e] == "+" || source[e] == "-" { e += 1 }
            if e < source.count, ("0"..."9").contains(source[e]) { isFloat = true; end = e; digits() }
        }
        let literal = text(pos..<end).replacingOccurrences(of: "_", with: "")
        advance(to: end)
        if isFloat, let d = Double(literal) { return .float(d) }
        guard let i = Int(literal) else { throw TemplateError(line: line, "number \(literal) is out of range") }
        return .int(i)
    }

    /// A quoted string with Python's escapes (Jinja2 decodes string literals with unicode-escape).
    private mutating func string(quote: Unicode.Scalar, tagLine: Int) throws -> String {
        var out = String.UnicodeScalarView()
        var i = pos + 1
        while true {
            guard i < source.count else { throw TemplateError(line: tagLine, "a string opened here is never closed") }
            let c = source[i]
            if c == quote { break }
            if c == "\\", i + 1 < source.count {
                let e = source[i + 1]
                i += 2
                switch e {
                case "n": out.append("\n")
                case "t": out.append("\t")
                case "r": out.append("\r")
                case "0": out.append("\0")
                case "a": out.append("\u{07}")
                case "b": out.append("\u{08}")
                case "f": out.append("\u{0C}")
                case "v": out.append("\u{0B}")
                case "\\", "'", "\"": out.append(e)
                case "\n": break
                case "x", "u", "U":
                    let n = e == "x" ? 2 : e == "u" ? 4 : 8
                    guard i + n <= source.count, let code = UInt32(text(i..<(i + n)), radix: 16), let scalar = Unicode.Scalar(code) else {
                        throw TemplateError(line: line, "bad \\\(e) escape in a string")
                    }
                    out.append(scalar); i += n
                default: out.append("\\"); out.append(e)
                }
                continue
            }
            out.append(c); i += 1
        }
        advance(to: i + 1)
        return String(out)
    }
}

/// An error in a template or raised while rendering it, with the template line when known.
public struct TemplateError: Error, CustomStringConvertible, Equatable {
    public var line: Int?
    public var message: String
    /// True for `raise_exception(...)`: the template itself refused the input.
    public var raised = false

    public init(line: Int?, _ message: String, raised: Bool = false) { self.line = line; self.message = message; self.raised = raised }

    public var description: String {
        if raised { return "the chat template refused the conversation: \(message)" }
        return line.map { "chat template line \($0): \(message)" } ?? "chat template: \(message)"
    }
}
