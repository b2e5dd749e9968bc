import Foundation

/// Jinja2's operators, attribute and item lookup, and iteration, over `Value`s.
enum Builtins {
    static func undefinedError(_ v: Value, _ r: Renderer) -> TemplateError {
        if case .undefined(let n) = v { return r.error("'\(n)' is undefined") }
        return r.error("a value is undefined")
    }

    /// `for x in v`: a list's items, a dict's keys, a string's characters; nothing for undefined.
    static func iterate(_ v: Value, _ r: Renderer) throws -> [Value] {
        switch v {
        case .undefined: return []
        case .array(let a): return a
        case .object(let o): return o.keys.map { .string($0) }
        case .string(let s): return s.unicodeScalars.map { .string(String($0)) }
        default: throw r.error("'\(v.typeName)' object is not iterable")
        }
    }

    /// `v.name`: a method where the type has one, else (for dicts and namespaces) the entry.
    static func attribute(_ v: Value, _ name: String, _ r: Renderer) throws -> Value {
        switch v {
        case .undefined: throw r.error("'\(undefinedName(v))' is undefined, so it has no attribute '\(name)'")
        case .object(let o):
            if let m = Methods.bound(v, name) { return m }
            return o[name] ?? .undefined(name)
        case .namespace(let n): return n.attributes[name] ?? .undefined(name)
        default: return Methods.bound(v, name) ?? .undefined(name)
        }
    }

    static func undefinedName(_ v: Value) -> String { if case .undefined(let n) = v { return n } else { return "" } }

    /// `v[key]`: the entry first, then (Jinja2's getitem) the attribute.
    static func item(_ v: Value, _ key: Value, _ r: Renderer) throws -> Value {
        switch (v, key) {
        case (.undefined, _): throw r.error("'\(undefinedName(v))' is undefined, so it cannot be indexed")
        case (.array(let a), .int(let i)):
            let j = i < 0 ? a.count + i : i
            return a.indices.contains(j) ? a[j] : .undefined("index \(i)")
        case (.string(let s), .int(let i)):
            let scalars = Array(s.unicodeScalars)
            let j = i < 0 ? scalars.count + i : i
            return scalars.indices.contains(j) ? .string(String(scalars[j])) : .undefined("index \(i)")
        case (.object(let o), .string(let k)): return o[k] ?? Methods.bound(v, k) ?? .undefined(k)
        case (.namespace(let n), .string(let k)): return n.attributes[k] ?? .undefined(k)
        case (_, .string(let k)): return Methods.bound(v, k) ?? .undefined(k)
        default: return .undefined("item")
        }
    }

    /// Python's `v[start:stop:step]` on lists and strings.
    static func slice(_ v: Value, _ start: Int?, _ stop: Int?, _ step: Int?, _ r: Renderer) throws -> Value {
        func indices(_ count: Int) throws -> [Int] {
            let step = step ?? 1
            guard step != 0 else { throw r.error("slice step cannot be zero") }
            func clamp(_ i: Int?, _ fallback: Int, _ low: Int, _ high: Int) -> Int {
                guard var i else { return fallback }
                if i < 0 { i += count }
                return min(max(i, low), high)
            }
            if step > 0 {
                let a = clamp(start, 0, 0, count), b = clamp(stop, count, 0, count)
                return Array(stride(from: a, to: b, by: step))
            }
            let a = clamp(start, count - 1, -1, count - 1), b = clamp(stop, -1, -1, count - 1)
            return Array(stride(from: a, to: b, by: step))
        }
        switch v {
        case .array(let a): return .array(try indices(a.count).map { a[$0] })
        case .string(let s):
            let scalars = Array(s.unicodeScalars)
            var out = String.UnicodeScalarView()
            for i in try indices(scalars.count) { out.append(scalars[i]) }
            return .string(String(out))
        case .undefined: throw undefinedError(v, r)
        default: throw r.error("'\(v.typeName)' object is not subscriptable")
        }
    }

    static func binary(_ op: String, _ a: Value, _ b: Value, _ r: Renderer) throws -> Value {
        if op == "~" { return .string(PythonText.str(a) + PythonText.str(b)) }
        if !a.isDefined { throw undefinedError(a, r) }
        if !b.isDefined { throw undefinedError(b, r) }
        switch (op, a, b) {
        case ("+", .string(let x), .string(let y)): return .string(x + y)
        case ("+", .array(let x), .array(let y)): return .array(x + y)
        case ("*", .string(let s), .int(let n)), ("*", .int(let n), .string(let s)): return .string(String(repeating: s, count: max(0, n)))
        case ("*", .array(let s), .int(let n)): return .array(Array([[Value]](repeating: s, count: max(0, n)).joined()))
        default: break
        }
        guard let x = a.number, let y = b.number, !isText(a), !isText(b) else {
            throw r.error("unsupported operand types for \(op): '\(a.typeName)' and '\(b.typeName)'")
        }
        if case .int(let i) = integral(a), case .int(let j) = integral(b) {
            switch op {
            case "+": return .int(i &+ j)
            case "-": return .int(i &- j)
            case "*": return .int(i &* j)
            case "//", "%":
                guard j != 0 else { throw r.error("integer division or modulo by zero") }
                // Python floors towards negative infinity.
                let q = Int((Double(i) / Double(j)).rounded(.down)), m = i - q * j
                return .int(op == "//" ? q : m)
            case "**" where j >= 0: return .int(Int(pow(Double(i), Double(j))))
            default: break
            }
        }
        switch op {
        case "+": return .double(x + y)
        case "-": return .double(x - y)
        case "*": return .double(x * y)
        case "/":
            guard y != 0 else { throw r.error("division by zero") }
            return .double(x / y)
        case "//":
            guard y != 0 else { throw r.error("division by zero") }
            return .double((x / y).rounded(.down))
        case "%":
            guard y != 0 else { throw r.error("modulo by zero") }
            return .double(x - (x / y).rounded(.down) * y)
        case "**": return .double(pow(x, y))
        default: throw r.error("unknown operator \(op)")
        }
    }

    private static func isText(_ v: Value) -> Bool { if case .string = v { return true } else { return false } }
    /// Bools take part in arithmetic as 0 and 1, as in Python.
    private static func integral(_ v: Value) -> Value {
        switch v {
        case .bool(let b): return .int(b ? 1 : 0)
        default: return v
        }
    }

    static func compare(_ op: String, _ a: Value, _ b: Value, _ r: Renderer) throws -> Bool {
        switch op {
        case "==": return a == b
        case "!=": return a != b
        case "in": return try contains(b, a, r)
        case "not in": return !(try contains(b, a, r))
        default: break
        }
        let order: Int
        switch (a, b) {
        case (.string(let x), .string(let y)): order = x == y ? 0 : (Array(x.unicodeScalars.map(\.value)).lexicographicallyPrecedes(y.unicodeScalars.map(\.value)) ? -1 : 1)
        default:
            guard let x = a.number, let y = b.number, !isText(a), !isText(b) else {
                throw r.error("'\(op)' not supported between instances of '\(a.typeName)' and '\(b.typeName)'")
            }
            order = x == y ? 0 : (x < y ? -1 : 1)
        }
        switch op {
        case "<": return order < 0
        case "<=": return order <= 0
        case ">": return order > 0
        default: return order >= 0
        }
    }

    /// Python's `item in container`.
    static func contains(_ container: Value, _ item: Value, _ r: Renderer) throws -> Bool {
        switch container {
        case .string(let s):
            guard case .string(let sub) = item else { throw r.error("'in <string>' requires string as left operand, not \(item.typeName)") }
            return sub.isEmpty || s.contains(sub)
        case .array(let a): return a.contains(item)
        case .object(let o): if case .string(let k) = item { return o[k] != nil } else { return false }
        case .undefined: return false
        default: throw r.error("argument of type '\(container.typeName)' is not iterable")
        }
    }
}
