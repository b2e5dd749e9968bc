import Foundation

/// Jinja2's built-in filters and tests that chat templates use, with `tojson` as transformers
/// defines it (plain `json.dumps`, no HTML escaping, `indent` and `separators` passed through).
extension Builtins {
    static func filter(_ name: String, _ v: Value, _ args: Value.Arguments, _ r: Renderer) throws -> Value {
        func string(_ x: Value) -> String { PythonText.str(x) }
        func int(_ i: Int, _ key: String) -> Int? { if case .int(let n)? = args.get(i, key) { return n } else { return nil } }
        func flag(_ i: Int, _ key: String) -> Bool { args.get(i, key)?.truthy ?? false }
        switch name {
        case "trim":
            let chars = args.get(0, "chars").flatMap { c -> String? in if case .string(let s) = c { return s } else { return nil } }
            return .string(Methods.strip(string(v), chars))
        case "upper": return .string(string(v).uppercased())
        case "lower": return .string(string(v).lowercased())
        case "title": return .string(Methods.title(string(v)))
        case "capitalize": return .string(Methods.capitalize(string(v)))
        case "string": return .string(string(v))
        case "safe": return v
        case "e", "escape":
            return .string(string(v).replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
                .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&#34;").replacingOccurrences(of: "'", with: "&#39;"))
        case "length", "count":
            switch v {
            case .undefined: return 0
            case .string(let s): return .int(s.unicodeScalars.count)
            case .array(let a): return .int(a.count)
            case .object(let o): return .int(o.count)
            default: throw r.error("object of type '\(v.typeName)' has no len()")
            }
        case "default", "d":
            let fallback = args.get(0, "default_value") ?? ""
            return (!v.isDefined || (flag(1, "boolean") && !v.truthy)) ? fallback : v
        case "first", "last":
            let items = try iterate(v, r)
            return (name == "first" ? items.first : items.last) ?? .undefined("\(name) of an empty sequence")
        case "list": return .array(try iterate(v, r))
        case "reverse":
            if case .string(let s) = v { return .string(String(String.UnicodeScalarView(s.unicodeScalars.reversed()))) }
            return .array(try iterate(v, r).reversed())
        case "join":
            var items = try iterate(v, r)
            if case .string(let a)? = args.get(1, "attribute") { items = try items.map { try item($0, .string(a), r) } }
            return .string(items.map(string).joined(separator: args.get(0, "d").map(string) ?? ""))
        case "items":
            switch v {
            case .undefined: return .array([])
            case .object(let o): return .array(o.pairs.map { .array([.string($0.0), $0.1]) })
            default: throw r.error("can only get item pairs from a mapping")
            }
        case "dictsort":
            guard case .object(let o) = v else { throw r.error("dictsort needs a mapping") }
            return .array(o.pairs.sorted { $0.0.lowercased() < $1.0.lowercased() }.map { .array([.string($0.0), $0.1]) })
        case "int":
            switch v {
            case .int: return v
            case .bool(let b): return .int(b ? 1 : 0)
            case .double(let d): return .int(Int(d))
            case .string(let s): return Int(Methods.strip(s, nil)).map { .int($0) } ?? Double(Methods.strip(s, nil)).map { .int(Int($0)) } ?? args.get(0, "default") ?? 0
            default: return args.get(0, "default") ?? 0
            }
        case "float":
            if let n = v.number { return .double(n) }
            if case .string(let s) = v, let d = Double(Methods.strip(s, nil)) { return .double(d) }
            return args.get(0, "default") ?? 0.0
        case "abs":
            switch v {
            case .int(let i): return .int(abs(i))
            case .double(let d): return .double(abs(d))
            default: throw r.error("bad operand type for abs(): '\(v.typeName)'")
            }
        case "round":
            guard let x = v.number else { throw r.error("round needs a number") }
            let scale = pow(10, Double(int(0, "precision") ?? 0))
            let method = args.get(1, "method").map(string) ?? "common"
            let rounded = method == "floor" ? (x * scale).rounded(.down) : method == "ceil" ? (x * scale).rounded(.up) : (x * scale).rounded(.toNearestOrAwayFromZero)
            return .double(rounded / scale)
        case "replace":
            return .string(Methods.replace(string(v), string(args.get(0, "old") ?? ""), string(args.get(1, "new") ?? ""), count: int(2, "count") ?? -1))
        case "indent":
            let width: String
            if case .string(let s)? = args.get(0, "width") { width = s } else { width = String(repeating: " ", count: int(0, "width") ?? 4) }
            let first = flag(1, "first"), blank = flag(2, "blank")
            let lines = string(v).components(separatedBy: "\n")
            return .string(lines.enumerated().map { i, l in
                (i == 0 && !first) || (!blank && l.unicodeScalars.allSatisfy(PythonText.isSpace)) ? l : width + l
            }.joined(separator: "\n"))
        case "wordcount": return .int(try Methods.split(string(v), nil, limit: -1).count)
        case "unique":
            var seen: [Value] = []
            for x in try iterate(v, r) where !seen.contains(x) { seen.append(x) }
            return .array(seen)
        case "sort":
            var items = try iterate(v, r)
            let attribute = args.get(2, "attribute").map(string)
            let keyed = try items.map { x in (x, try attribute.map { try item(x, .string($0), r) } ?? x) }
            var failure: TemplateError? = nil
            let sorted = keyed.sorted { a, b in
                do { return try compare("<", a.1, b.1, r) } catch { failure = error as? TemplateError; return false }
            }
            if let failure { throw failure }
            items = sorted.map(\.0)
            return .array(flag(0, "reverse") ? items.reversed() : items)
        case "min", "max":
            let items = try iterate(v, r)
            guard var best = items.first else { return .undefined("\(name) of an empty sequence") }
            for x in items.dropFirst() where try compare(name == "min" ? "<" : ">", x, best, r) { best = x }
            return best
        case "sum":
            var total: Value = args.get(1, "start") ?? 0
            let attribute = args.get(0, "attribute").map(string)
            for x in try iterate(v, r) { total = try binary("+", total, try attribute.map { try item(x, .string($0), r) } ?? x, r) }
            return total
        case "attr":
            return try attribute(v, string(args.get(0, "name") ?? ""), r)
        case "tojson":
            var options = PythonText.JSONOptions()
            switch args.get(1, "indent") {
            case .int(let n)?: options.indent = String(repeating: " ", count: n)
            case .string(let s)?: options.indent = s
            default: break
            }
            if case .array(let seps)? = args.get(2, "separators"), seps.count == 2 {
                options.itemSeparator = string(seps[0]); options.keySeparator = string(seps[1])
            }
            options.ensureASCII = flag(0, "ensure_ascii")
            options.sortKeys = flag(3, "sort_keys")
            do { return .string(try PythonText.json(v, options)) } catch var e as TemplateError { e.line = e.line ?? r.error("").line; throw e }
        case "map":
            let items = try iterate(v, r)
            if case .string(let a)? = args.keyword.first(where: { $0.0 == "attribute" })?.1 {
                let fallback = args.keyword.first { $0.0 == "default" }?.1
                return .array(try items.map { x in
                    let got = try item(x, .string(a), r)
                    return got.isDefined ? got : fallback ?? got
                })
            }
            guard case .string(let f)? = args.positional.first else { throw r.error("map needs a filter name or attribute=") }
            let rest = Value.Arguments(Array(args.positional.dropFirst()), keyword: args.keyword)
            return .array(try items.map { try filter(f, $0, rest, r) })
        case "select", "reject", "selectattr", "rejectattr":
            let byAttribute = name.hasSuffix("attr")
            var positional = args.positional
            let attribute: String? = byAttribute ? (positional.isEmpty ? nil : string(positional.removeFirst())) : nil
            if byAttribute && attribute == nil { throw r.error("\(name) needs an attribute name") }
            let testName = positional.isEmpty ? nil : string(positional.removeFirst())
            let keep = name.hasPrefix("select")
            return .array(try iterate(v, r).filter { x in
                let subject = try attribute.map { a in try attributePath(x, a, r) } ?? x
                let passed = try testName.map { try test($0, subject, positional, r) } ?? subject.truthy
                return passed == keep
            })
        default:
            throw r.error("unknown filter '\(name)'")
        }
    }

    /// `selectattr("function.name")`: dotted attribute paths, looked up as items first.
    private static func attributePath(_ v: Value, _ path: String, _ r: Renderer) throws -> Value {
        var x = v
        for part in path.split(separator: ".") {
            if !x.isDefined { return x }
            x = try item(x, Int(part).map { .int($0) } ?? .string(String(part)), r)
        }
        return x
    }

    static func test(_ name: String, _ v: Value, _ args: [Value], _ r: Renderer) throws -> Bool {
        func arg() throws -> Value {
            guard let a = args.first else { throw r.error("test '\(name)' needs an argument") }
            return a
        }
        switch name {
        case "defined": return v.isDefined
        case "undefined": return !v.isDefined
        case "none": return v == .none && v.isDefined
        case "boolean": if case .bool = v { return true } else { return false }
        case "true": if case .bool(true) = v { return true } else { return false }
        case "false": if case .bool(false) = v { return true } else { return false }
        case "integer": if case .int = v { return true } else { return false }
        case "float": if case .double = v { return true } else { return false }
        case "number": switch v { case .int, .double, .bool: return true; default: return false }
        case "string": if case .string = v { return true } else { return false }
        case "mapping": if case .object = v { return true } else { return false }
        case "iterable": switch v { case .string, .array, .object, .undefined: return true; default: return false }
        case "sequence": switch v { case .string, .array, .object: return true; default: return false }
        case "callable": if case .function = v { return true } else { return false }
        case "equalto", "eq", "==", "sameas": return v == (try arg())
        case "ne", "!=": return v != (try arg())
        case "lt", "<": return try compare("<", v, try arg(), r)
        case "le", "<=": return try compare("<=", v, try arg(), r)
        case "gt", ">", "greaterthan": return try compare(">", v, try arg(), r)
        case "ge", ">=": return try compare(">=", v, try arg(), r)
        case "in": return try contains(try arg(), v, r)
        case "odd", "even", "divisibleby":
            guard case .int(let i) = v else { throw r.error("test '\(name)' needs an integer") }
            if name == "odd" { return i % 2 != 0 }
            if name == "even" { return i % 2 == 0 }
            guard case .int(let d) = try arg(), d != 0 else { throw r.error("divisibleby needs a non-zero integer") }
            return i % d == 0
        case "lower": if case .string(let s) = v { return s == s.lowercased() } else { return false }
        case "upper": if case .string(let s) = v { return s == s.uppercased() } else { return false }
        default: throw r.error("unknown test '\(name)'")
        }
    }
}
