/// How Python turns values into text: `str()`, `repr()`, `json.dumps` (Hugging Face's `tojson`
/// filter), and which characters `str.isspace()` counts; chat templates were written against these.
enum PythonText {
    /// `str.isspace()`: the characters `strip()`, `split()` and Jinja2's `trim` remove.
    static func isSpace(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000: return true
        default: return false
        }
    }

    /// `str(value)`; an undefined value prints as nothing.
    static func str(_ v: Value) -> String {
        switch v {
        case .undefined: return ""
        case .string(let s): return s
        default: return repr(v)
        }
    }

    static func repr(_ v: Value) -> String {
        switch v {
        case .undefined: return ""
        case .none: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .int(let i): return String(i)
        case .double(let d): return float(d)
        case .string(let s): return quoted(s)
        case .array(let a): return "[" + a.map(repr).joined(separator: ", ") + "]"
        case .object(let o): return "{" + o.pairs.map { quoted($0.0) + ": " + repr($0.1) }.joined(separator: ", ") + "}"
        case .namespace(let n): return "<Namespace " + n.attributes.pairs.map { "\($0.0)=\(repr($0.1))" }.joined(separator: ", ") + ">"
        case .function(let f): return "<function \(f.name)>"
        }
    }

    /// Python's `float.__repr__`: the shortest text that reads back, always with a point or an exponent.
    static func float(_ d: Double) -> String {
        if d.isNaN { return "nan" }
        if d.isInfinite { return d < 0 ? "-inf" : "inf" }
        var s = "\(d)"
        if let e = s.firstIndex(of: "e") {
            // Swift writes 1e-05 and 1e+16 as Python does; only a mantissa like "1.0" differs.
            let mantissa = s[..<e], exponent = s[e...]
            if mantissa.hasSuffix(".0") { s = String(mantissa.dropLast(2)) + exponent }
        }
        return s
    }

    static func quoted(_ s: String) -> String {
        let quote: Unicode.Scalar = s.contains("'") && !s.contains("\"") ? "\"" : "'"
        return escaped(s, quote: quote) { c in c.value < 0x20 || c.value == 0x7F ? "\\x" + hex(c.value, width: 2) : nil }
    }

    /// `s` between quotes with a backslash before the quote and the backslash, \n \r \t for
    /// those, and `other`'s text for any other character it escapes (repr's and JSON's differ).
    static func escaped(_ s: String, quote: Unicode.Scalar, other: (Unicode.Scalar) -> String?) -> String {
        var out = String(quote)
        for c in s.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case quote: out += "\\" + String(quote)
            default: if let e = other(c) { out += e } else { out.unicodeScalars.append(c) }
            }
        }
        out.unicodeScalars.append(quote)
        return out
    }

    static func hex(_ v: UInt32, width: Int) -> String {
        let h = String(v, radix: 16)
        return String(repeating: "0", count: max(0, width - h.count)) + h
    }

    struct JSONOptions {
        var indent: String? = nil
        var itemSeparator: String? = nil
        var keySeparator = ": "
        var ensureASCII = false
        var sortKeys = false
    }

    /// `json.dumps(value, ...)` as transformers' `tojson` filter calls it (ensure_ascii off).
    static func json(_ v: Value, _ options: JSONOptions, depth: Int = 0) throws -> String {
        let itemSeparator = options.itemSeparator ?? (options.indent == nil ? ", " : ",")
        func wrap(_ open: String, _ items: [String], _ close: String) -> String {
            guard !items.isEmpty else { return open + close }
            guard let indent = options.indent else { return open + items.joined(separator: itemSeparator) + close }
            let inner = "\n" + String(repeating: indent, count: depth + 1)
            let outer = "\n" + String(repeating: indent, count: depth)
            return open + inner + items.joined(separator: itemSeparator + inner) + outer + close
        }
        switch v {
        case .undefined: throw TemplateError(line: nil, "tojson of an undefined value")
        case .none: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .double(let d):
            if d.isNaN { return "NaN" }
            if d.isInfinite { return d < 0 ? "-Infinity" : "Infinity" }
            return float(d)
        case .string(let s): return jsonString(s, ascii: options.ensureASCII)
        case .array(let a): return wrap("[", try a.map { try json($0, options, depth: depth + 1) }, "]")
        case .object(let o):
            let pairs = options.sortKeys ? o.pairs.sorted { $0.0 < $1.0 } : o.pairs
            return wrap("{", try pairs.map { jsonString($0.0, ascii: options.ensureASCII) + options.keySeparator + (try json($0.1, options, depth: depth + 1)) }, "}")
        case .namespace, .function: throw TemplateError(line: nil, "Object of type \(v.typeName) is not JSON serializable")
        }
    }

    static func jsonString(_ s: String, ascii: Bool) -> String {
        escaped(s, quote: "\"") { c in
            switch c {
            case "\u{08}": return "\\b"
            case "\u{0C}": return "\\f"
            default:
                guard c.value < 0x20 || (ascii && c.value > 0x7F) else { return nil }
                if c.value > 0xFFFF {
                    let v = c.value - 0x10000
                    return "\\u" + hex(0xD800 + (v >> 10), width: 4) + "\\u" + hex(0xDC00 + (v & 0x3FF), width: 4)
                }
                return "\\u" + hex(c.value, width: 4)
            }
        }
    }
}
