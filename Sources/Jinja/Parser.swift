/// Statements from the lexer's segments, and expressions from a tag's tokens, with Jinja2's
/// grammar and operator precedence (lowest first): `x if c else y`, `or`, `and`, `not`,
/// comparisons and `in`, `+ -`, `~`, `* / // %`, `**`, unary `- +`, then filters and tests,
/// then attribute, item and call postfixes.
struct Parser {
    typealias Token = Lexer.Token
    private let segments: [Lexer.Segment]
    private var index = 0

    static func parse(_ source: String) throws -> [Node] {
        var p = Parser(segments: try Lexer.segments(source))
        let (nodes, end) = try p.body(until: [])
        if let end { throw TemplateError(line: end.line, "unexpected '\(end.name)'") }
        return nodes
    }

    private init(segments: [Lexer.Segment]) { self.segments = segments }

    typealias End = (name: String, tokens: ExpressionParser, line: Int)

    /// Nodes up to one of the statements in `ends` (returned with the rest of its tokens), or to
    /// the end of the template when `ends` is empty.
    private mutating func body(until ends: Set<String>) throws -> ([Node], End?) {
        var nodes: [Node] = []
        while index < segments.count {
            let segment = segments[index]
            index += 1
            switch segment {
            case .text(let t): nodes.append(.text(t))
            case .output(let tokens, let line):
                var p = ExpressionParser(tokens, line: line)
                nodes.append(.output(try p.expression(), line: line))
                try p.finish()
            case .statement(let tokens, let line):
                guard case .name(let keyword)? = tokens.first else { throw TemplateError(line: line, "a statement tag must start with a keyword") }
                var p = ExpressionParser(Array(tokens.dropFirst()), line: line)
                if ends.contains(keyword) { return (nodes, (keyword, p, line)) }
                nodes.append(try statement(keyword, &p, line: line, ends: ends))
            }
        }
        return (nodes, nil)
    }

    private mutating func block(until ends: Set<String>, opened: String, line: Int) throws -> ([Node], End) {
        let (nodes, end) = try body(until: ends)
        guard let end else { throw TemplateError(line: line, "'\(opened)' is never closed") }
        return (nodes, end)
    }

    private mutating func statement(_ keyword: String, _ p: inout ExpressionParser, line: Int, ends: Set<String>) throws -> Node {
        switch keyword {
        case "if":
            var branches: [(Expression, [Node])] = []
            var condition = try p.expression()
            try p.finish()
            while true {
                var (nodes, end) = try block(until: ["elif", "else", "endif"], opened: "if", line: line)
                branches.append((condition, nodes))
                switch end.name {
                case "elif":
                    condition = try end.tokens.expression(); try end.tokens.finish()
                case "else":
                    try end.tokens.finish()
                    let (otherwise, last) = try block(until: ["endif"], opened: "if", line: line)
                    try last.tokens.finish()
                    return .if(branches, otherwise: otherwise, line: line)
                default:
                    try end.tokens.finish()
                    return .if(branches, otherwise: [], line: line)
                }
            }
        case "for":
            let target = try p.target(allowAttribute: false)
            try p.expect(.name("in"))
            let iterable = try p.expression(conditional: false)
            var filter: Expression? = nil
            if p.accept(.name("if")) { filter = try p.expression(conditional: false) }
            if p.accept(.name("recursive")) { throw TemplateError(line: line, "recursive loops are not supported") }
            try p.finish()
            let (body, end) = try block(until: ["else", "endfor"], opened: "for", line: line)
            try end.tokens.finish()
            var otherwise: [Node] = []
            if end.name == "else" {
                var last: End
                (otherwise, last) = try block(until: ["endfor"], opened: "for", line: line)
                try last.tokens.finish()
            }
            return .for(target, iterable: iterable, filter: filter, body: body, otherwise: otherwise, line: line)
        case "set":
            let target = try p.target(allowAttribute: true)
            if p.accept(.op("=")) {
                let value = try p.expression(tuple: true)
                try p.finish()
                return .set(target, value, line: line)
            }
            try p.finish()
            guard case .name(let name) = target else { throw TemplateError(line: line, "a block set takes one name") }
            let (nodes, end) = try block(until: ["endset"], opened: "set", line: line)
            try end.tokens.finish()
            return .setBlock(name, body: nodes, line: line)
        case "macro":
            let name = try p.name()
            try p.expect(.op("("))
            var parameters: [(String, Expression?)] = []
            while !p.accept(.op(")")) {
                if !parameters.isEmpty { try p.expect(.op(",")); if p.accept(.op(")")) { break } }
                let parameter = try p.name()
                parameters.append((parameter, p.accept(.op("=")) ? try p.expression() : nil))
            }
            try p.finish()
            let (nodes, end) = try block(until: ["endmacro"], opened: "macro", line: line)
            try end.tokens.finish()
            return .macro(name: name, parameters: parameters, body: nodes, line: line)
        case "generation":
            try p.finish()
            let (nodes, end) = try block(until: ["endgeneration"], opened: "generation", line: line)
            try end.tokens.finish()
            return .generation(nodes)
        case "break": try p.finish(); return .break(line: line)
        case "continue": try p.finish(); return .continue(line: line)
        default:
            throw TemplateError(line: line, "unknown or unsupported statement '\(keyword)'")
        }
    }
}

/// Recursive descent over one tag's tokens.
struct ExpressionParser {
    typealias Token = Lexer.Token
    private var tokens: [Token]
    private var index = 0
    let line: Int

    init(_ tokens: [Token], line: Int) { self.tokens = tokens; self.line = line }

    private var current: Token? { index < tokens.count ? tokens[index] : nil }
    private func error(_ message: String) -> TemplateError { TemplateError(line: line, message) }

    mutating func accept(_ t: Token) -> Bool {
        if current == t { index += 1; return true }
        return false
    }

    mutating func expect(_ t: Token) throws {
        guard accept(t) else { throw error("expected '\(t)'" + (current.map { ", found '\($0)'" } ?? " at the end of the tag")) }
    }

    func finish() throws {
        if let current { throw error("unexpected '\(current)'") }
    }

    mutating func name() throws -> String {
        guard case .name(let n)? = current else { throw error("expected a name" + (current.map { ", found '\($0)'" } ?? "")) }
        index += 1
        return n
    }

    mutating func target(allowAttribute: Bool) throws -> Target {
        let parenthesised = accept(.op("("))
        var names = [try name()]
        if allowAttribute, !parenthesised, accept(.op(".")) { return .attribute(names[0], try name()) }
        while accept(.op(",")) { names.append(try name()) }
        if parenthesised { try expect(.op(")")) }
        return names.count == 1 && !parenthesised ? .name(names[0]) : .tuple(names)
    }

    /// An expression; with `tuple`, `a, b` reads as a list (Python's tuple).
    mutating func expression(conditional: Bool = true, tuple: Bool = false) throws -> Expression {
        let first = conditional ? try conditionalExpression() : try or()
        guard tuple, current == .op(",") else { return first }
        var items = [first]
        while accept(.op(",")) {
            if current == nil { break }
            items.append(try conditionalExpression())
        }
        return .list(items)
    }

    private mutating func conditionalExpression() throws -> Expression {
        var value = try or()
        while accept(.name("if")) {
            let condition = try or()
            let otherwise = accept(.name("else")) ? try conditionalExpression() : nil
            value = .conditional(then: value, condition: condition, otherwise: otherwise)
        }
        return value
    }

    private mutating func or() throws -> Expression {
        var left = try and()
        while accept(.name("or")) { left = .or(left, try and()) }
        return left
    }

    private mutating func and() throws -> Expression {
        var left = try not()
        while accept(.name("and")) { left = .and(left, try not()) }
        return left
    }

    private mutating func not() throws -> Expression {
        if accept(.name("not")) { return .not(try not()) }
        return try comparison()
    }

    private mutating func comparison() throws -> Expression {
        let left = try additive()
        var rest: [(String, Expression)] = []
        while true {
            if case .op(let o)? = current, ["==", "!=", "<", ">", "<=", ">="].contains(o) {
                index += 1; rest.append((o, try additive()))
            } else if accept(.name("in")) {
                rest.append(("in", try additive()))
            } else if current == .name("not"), index + 1 < tokens.count, tokens[index + 1] == .name("in") {
                index += 2; rest.append(("not in", try additive()))
            } else { break }
        }
        return rest.isEmpty ? left : .compare(left, rest)
    }

    private mutating func additive() throws -> Expression {
        var left = try concatenation()
        while case .op(let o)? = current, o == "+" || o == "-" { index += 1; left = .binary(o, left, try concatenation()) }
        return left
    }

    private mutating func concatenation() throws -> Expression {
        var left = try multiplicative()
        while accept(.op("~")) { left = .binary("~", left, try multiplicative()) }
        return left
    }

    private mutating func multiplicative() throws -> Expression {
        var left = try power()
        while case .op(let o)? = current, ["*", "/", "//", "%"].contains(o) { index += 1; left = .binary(o, left, try power()) }
        return left
    }

    private mutating func power() throws -> Expression {
        var left = try unary(withFilters: true)
        while accept(.op("**")) { left = .binary("**", left, try unary(withFilters: true)) }
        return left
    }

    private mutating func unary(withFilters: Bool) throws -> Expression {
        var value: Expression
        if case .op(let o)? = current, o == "-" || o == "+" {
            index += 1
            value = .unary(o, try unary(withFilters: false))
        } else {
            value = try postfix(try primary())
        }
        return withFilters ? try filtersAndTests(value) : value
    }

    private mutating func primary() throws -> Expression {
        guard let token = current else { throw error("expected an expression at the end of the tag") }
        index += 1
        switch token {
        case .name(let n):
            switch n {
            case "true", "True": return .literal(true)
            case "false", "False": return .literal(false)
            case "none", "None": return .literal(.none)
            default: return .name(n)
            }
        case .string(var s):
            while case .string(let more)? = current { s += more; index += 1 }
            return .literal(.string(s))
        case .int(let i): return .literal(.int(i))
        case .float(let d): return .literal(.double(d))
        case .op("("):
            if accept(.op(")")) { return .list([]) }
            let e = try expression(tuple: true)
            try expect(.op(")"))
            return e
        case .op("["):
            var items: [Expression] = []
            while !accept(.op("]")) {
                if !items.isEmpty { try expect(.op(",")); if accept(.op("]")) { break } }
                items.append(try expression())
            }
            return .list(items)
        case .op("{"):
            var pairs: [(Expression, Expression)] = []
            while !accept(.op("}")) {
                if !pairs.isEmpty { try expect(.op(",")); if accept(.op("}")) { break } }
                let key = try expression()
                try expect(.op(":"))
                pairs.append((key, try expression()))
            }
            return .dict(pairs)
        default:
            throw error("unexpected '\(token)'")
        }
    }

    private mutating func postfix(_ base: Expression) throws -> Expression {
        var value = base
        while true {
            if accept(.op(".")) {
                switch current {
                case .name(let n)?: index += 1; value = .attribute(value, n)
                case .int(let i)?: index += 1; value = .item(value, .literal(.int(i)))
                default: throw error("expected an attribute name after '.'")
                }
            } else if accept(.op("[")) {
                value = try subscriptExpression(value)
            } else if current == .op("(") {
                value = try call(value)
            } else {
                return value
            }
        }
    }

    private mutating func subscriptExpression(_ base: Expression) throws -> Expression {
        var parts: [Expression?] = [nil]
        var sawColon = false
        while !accept(.op("]")) {
            if accept(.op(":")) { sawColon = true; parts.append(nil); continue }
            guard parts[parts.count - 1] == nil else { throw error("expected ':' or ']' in a subscript") }
            parts[parts.count - 1] = try expression()
        }
        guard sawColon else {
            guard let index = parts[0] else { throw error("empty subscript") }
            return .item(base, index)
        }
        guard parts.count <= 3 else { throw error("a slice takes at most start:stop:step") }
        return .slice(base, start: parts[0], stop: parts.count > 1 ? parts[1] : nil, step: parts.count > 2 ? parts[2] : nil)
    }

    private mutating func arguments() throws -> ([Expression], [(String, Expression)]) {
        try expect(.op("("))
        var positional: [Expression] = [], keyword: [(String, Expression)] = []
        while !accept(.op(")")) {
            if !(positional.isEmpty && keyword.isEmpty) { try expect(.op(",")); if accept(.op(")")) { break } }
            if case .name(let n)? = current, index + 1 < tokens.count, tokens[index + 1] == .op("=") {
                index += 2
                keyword.append((n, try expression()))
            } else {
                guard keyword.isEmpty else { throw error("a positional argument follows a keyword argument") }
                positional.append(try expression())
            }
        }
        return (positional, keyword)
    }

    private mutating func call(_ callee: Expression) throws -> Expression {
        let (positional, keyword) = try arguments()
        return .call(callee, positional, keyword)
    }

    private mutating func filtersAndTests(_ base: Expression) throws -> Expression {
        var value = base
        while true {
            if accept(.op("|")) {
                var name = try self.name()
                while accept(.op(".")) { name += "." + (try self.name()) }
                var positional: [Expression] = [], keyword: [(String, Expression)] = []
                if current == .op("(") { (positional, keyword) = try arguments() }
                value = .filter(value, name: name, positional, keyword)
            } else if accept(.name("is")) {
                let negated = accept(.name("not"))
                let name = try self.name()
                var positional: [Expression] = []
                if current == .op("(") {
                    positional = try arguments().0
                } else if let c = current, Self.startsTestArgument(c) {
                    positional = [try postfix(try primary())]
                }
                value = .test(value, name: name, negated: negated, positional)
            } else if current == .op("(") {
                value = try call(value)
            } else {
                return value
            }
        }
    }

    /// Jinja2 reads `x is divisibleby 3` and `x is equalto y`: a test's single argument may follow
    /// without parentheses, unless the next word continues the enclosing expression.
    private static func startsTestArgument(_ t: Token) -> Bool {
        switch t {
        case .name(let n): return !["else", "or", "and", "if", "in", "is", "not"].contains(n)
        case .string, .int, .float: return true
        case .op(let o): return o == "[" || o == "{"
        }
    }
}
