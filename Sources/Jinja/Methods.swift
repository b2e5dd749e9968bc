/// Python's `str` and `dict` methods that templates call (`content.strip()`, `message.get('x')`),
/// on Unicode scalars as Python counts them (Swift's `Character` would join "\r\n" into one).
enum Methods {
    static func bound(_ v: Value, _ name: String) -> Value? {
        switch v {
        case .string(let s): return stringMethod(s, name)
        case .object(let o): return dictMethod(o, name)
        default: return nil
        }
    }

    private static func method(_ name: String, _ body: @escaping @Sendable (Value.Arguments) throws -> Value) -> Value {
        .function(.init(name: name, call: body))
    }

    static func text(_ v: Value?, _ what: String) throws -> String {
        guard case .string(let s)? = v else { throw TemplateError(line: nil, "\(what) must be a string, not \(v?.typeName ?? "missing")") }
        return s
    }

    private static func dictMethod(_ o: Value.Dictionary, _ name: String) -> Value? {
        switch name {
        case "items": return method(name) { _ in .array(o.pairs.map { .array([.string($0.0), $0.1]) }) }
        case "keys": return method(name) { _ in .array(o.keys.map { .string($0) }) }
        case "values": return method(name) { _ in .array(o.pairs.map(\.1)) }
        case "get": return method(name) { args in
            let key = try text(args.get(0, "key"), "dict.get's key")
            return o[key] ?? args.get(1, "default") ?? .none
        }
        default: return nil
        }
    }

    private static func stringMethod(_ s: String, _ name: String) -> Value? {
        switch name {
        case "strip", "lstrip", "rstrip":
            return method(name) { args in
                let chars: String? = try args.get(0, "chars").flatMap { $0 == .none ? nil : try text($0, "\(name)'s chars") }
                return .string(strip(s, chars, leading: name != "rstrip", trailing: name != "lstrip"))
            }
        case "upper": return method(name) { _ in .string(s.uppercased()) }
        case "lower": return method(name) { _ in .string(s.lowercased()) }
        case "title": return method(name) { _ in .string(title(s)) }
        case "capitalize": return method(name) { _ in .string(capitalize(s)) }
        case "startswith", "endswith":
            return method(name) { args in
                let candidates: [Value]
                switch args.get(0, "prefix") {
                case .array(let a)?: candidates = a
                case let v?: candidates = [v]
                case nil: throw TemplateError(line: nil, "\(name) takes a string")
                }
                let scalars = Array(s.unicodeScalars)
                return .bool(try candidates.contains { c in
                    let p = Array(try text(c, "\(name)'s argument").unicodeScalars)
                    return name == "startswith" ? scalars.starts(with: p) : scalars.reversed().starts(with: p.reversed())
                })
            }
        case "split", "rsplit":
            return method(name) { args in
                let sep = try args.get(0, "sep").flatMap { $0 == .none ? nil : try text($0, "split's separator") }
                var limit = -1
                if case .int(let n)? = args.get(1, "maxsplit") { limit = n }
                return .array(try split(s, sep, limit: limit, fromRight: name == "rsplit").map { .string($0) })
            }
        case "splitlines":
            return method(name) { _ in
                var lines = s.unicodeScalars.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r" }.map { String(String.UnicodeScalarView($0)) }
                if s.unicodeScalars.last == "\n" || s.unicodeScalars.last == "\r" { lines.removeLast() }
                return .array(lines.map { .string($0) })
            }
        case "replace":
            return method(name) { args in
                let old = try text(args.get(0, "old"), "replace's old"), new = try text(args.get(1, "new"), "replace's new")
                var count = -1
                if case .int(let n)? = args.get(2, "count") { count = n }
                return .string(replace(s, old, new, count: count))
            }
        case "find", "rfind", "count":
            return method(name) { args in
                let sub = Array(try text(args.get(0, "sub"), "\(name)'s argument").unicodeScalars)
                let positions = occurrences(Array(s.unicodeScalars), sub)
                if name == "count" { return .int(positions.count) }
                return .int((name == "find" ? positions.first : positions.last) ?? -1)
            }
        case "join":
            return method(name) { args in
                guard case .array(let items)? = args.get(0, "iterable") else { throw TemplateError(line: nil, "join takes a list") }
                return .string(try items.map { try text($0, "each item joined") }.joined(separator: s))
            }
        case "removeprefix", "removesuffix":
            return method(name) { args in
                let affix = try text(args.get(0, "affix"), "\(name)'s argument")
                if name == "removeprefix" { return .string(s.unicodeScalars.starts(with: affix.unicodeScalars) ? String(String.UnicodeScalarView(s.unicodeScalars.dropFirst(affix.unicodeScalars.count))) : s) }
                return .string(s.unicodeScalars.reversed().starts(with: affix.unicodeScalars.reversed()) ? String(String.UnicodeScalarView(s.unicodeScalars.dropLast(affix.unicodeScalars.count))) : s)
            }
        case "isdigit": return method(name) { _ in .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.numericType == .decimal || $0.properties.numericType == .digit }) }
        case "isalpha": return method(name) { _ in .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.isAlphabetic }) }
        case "isspace": return method(name) { _ in .bool(!s.isEmpty && s.unicodeScalars.allSatisfy(PythonText.isSpace)) }
        case "isupper": return method(name) { _ in .bool(s.unicodeScalars.contains { $0.properties.isUppercase } && !s.unicodeScalars.contains { $0.properties.isLowercase }) }
        case "islower": return method(name) { _ in .bool(s.unicodeScalars.contains { $0.properties.isLowercase } && !s.unicodeScalars.contains { $0.properties.isUppercase }) }
        default: return nil
        }
    }

    // MARK: Python's string operations on scalars

    static func strip(_ s: String, _ chars: String?, leading: Bool = true, trailing: Bool = true) -> String {
        let set = chars.map { Set($0.unicodeScalars) }
        let drop: (Unicode.Scalar) -> Bool = { set?.contains($0) ?? PythonText.isSpace($0) }
        var scalars = Substring(s).unicodeScalars[...]
        if leading { while let f = scalars.first, drop(f) { scalars.removeFirst() } }
        if trailing { while let l = scalars.last, drop(l) { scalars.removeLast() } }
        return String(String.UnicodeScalarView(scalars))
    }

    static func occurrences(_ s: [Unicode.Scalar], _ sub: [Unicode.Scalar]) -> [Int] {
        guard !sub.isEmpty else { return Array(0...s.count) }
        var out: [Int] = [], i = 0
        while i + sub.count <= s.count {
            if s[i..<(i + sub.count)].elementsEqual(sub) { out.append(i); i += sub.count } else { i += 1 }
        }
        return out
    }

    static func replace(_ s: String, _ old: String, _ new: String, count: Int = -1) -> String {
        let scalars = Array(s.unicodeScalars), o = Array(old.unicodeScalars)
        var out = String.UnicodeScalarView(), i = 0, done = 0
        if o.isEmpty {
            // Python inserts `new` between every character (and at both ends).
            for c in scalars where count < 0 || done < count { out.append(contentsOf: new.unicodeScalars); out.append(c); done += 1 }
            if count < 0 || done < count { out.append(contentsOf: new.unicodeScalars) }
            return String(out)
        }
        while i < scalars.count {
            if (count < 0 || done < count), i + o.count <= scalars.count, scalars[i..<(i + o.count)].elementsEqual(o) {
                out.append(contentsOf: new.unicodeScalars); i += o.count; done += 1
            } else { out.append(scalars[i]); i += 1 }
        }
        return String(out)
    }

    static func split(_ s: String, _ sep: String?, limit: Int, fromRight: Bool = false) throws -> [String] {
        let scalars = Array(s.unicodeScalars)
        func string(_ r: ArraySlice<Unicode.Scalar>) -> String { String(String.UnicodeScalarView(r)) }
        guard let sep else {
            // Runs of whitespace separate; none are empty.
            var words: [ArraySlice<Unicode.Scalar>] = [], start: Int? = nil
            for (i, c) in scalars.enumerated() {
                if PythonText.isSpace(c) { if let s0 = start { words.append(scalars[s0..<i]); start = nil } } else if start == nil { start = i }
            }
            if let s0 = start { words.append(scalars[s0...]) }
            guard limit >= 0, words.count > limit + 1 else { return words.map(string) }
            if fromRight {
                let head = scalars[..<words[words.count - limit - 1].endIndex]
                return [string(head)] + words.suffix(limit).map(string)
            }
            let tail = strip(string(scalars[words[limit].startIndex...]), nil, leading: false)
            return words.prefix(limit).map(string) + [tail]
        }
        let o = Array(sep.unicodeScalars)
        guard !o.isEmpty else { throw TemplateError(line: nil, "empty separator") }
        var cuts = occurrences(scalars, o)
        if limit >= 0, cuts.count > limit { cuts = fromRight ? Array(cuts.suffix(limit)) : Array(cuts.prefix(limit)) }
        var parts: [String] = [], start = 0
        for c in cuts { parts.append(string(scalars[start..<c])); start = c + o.count }
        parts.append(string(scalars[start...]))
        return parts
    }

    static func capitalize(_ s: String) -> String {
        guard let first = s.unicodeScalars.first else { return s }
        return String(first).uppercased() + String(String.UnicodeScalarView(s.unicodeScalars.dropFirst())).lowercased()
    }

    /// Python's `str.title()`: a letter after a non-letter is upper case, others lower case.
    static func title(_ s: String) -> String {
        var out = "", previousCased = false
        for c in s.unicodeScalars {
            let cased = c.properties.isCased
            out += previousCased ? String(c).lowercased() : String(c).uppercased()
            previousCased = cased
        }
        return out
    }
}
