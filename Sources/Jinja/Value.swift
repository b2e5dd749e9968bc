/// A value inside a template, with Python's semantics as Jinja2 gives them (chat templates are
/// written for Jinja2 running in Python: `str()`, truthiness, `==`, `in` behave as there).
public indirect enum Value: Sendable {
    /// A name that is not set; prints as nothing, is false, iterates as empty (Jinja2's `Undefined`).
    case undefined(String)
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([Value])
    /// Keys in insertion order, as a Python dict keeps them (`tojson` and `items` show that order).
    case object(Dictionary)
    /// `namespace(...)`: the one mutable value, shared by reference, so a loop can change it.
    case namespace(Namespace)
    case function(Function)

    public struct Dictionary: Sendable, Equatable {
        public private(set) var keys: [String] = []
        private var storage: [String: Value] = [:]
        public init() {}
        public init(_ pairs: [(String, Value)]) { for (k, v) in pairs { self[k] = v } }
        public subscript(key: String) -> Value? {
            get { storage[key] }
            set {
                if storage[key] == nil, newValue != nil { keys.append(key) }
                if newValue == nil, storage[key] != nil { keys.removeAll { $0 == key } }
                storage[key] = newValue
            }
        }
        public var pairs: [(String, Value)] { keys.map { ($0, storage[$0]!) } }
        public var count: Int { keys.count }
        public static func == (a: Dictionary, b: Dictionary) -> Bool {
            a.count == b.count && a.keys.allSatisfy { k in b[k].map { $0 == a[k]! } ?? false }
        }
    }

    public final class Namespace: @unchecked Sendable {
        var attributes: Dictionary
        init(_ attributes: Dictionary) { self.attributes = attributes }
    }

    /// A callable: a global such as `raise_exception`, a bound method (`text.strip`) or a macro.
    public struct Function: Sendable {
        let name: String
        let call: @Sendable (Arguments) throws -> Value
        public init(name: String, call: @escaping @Sendable (Arguments) throws -> Value) { self.name = name; self.call = call }
    }

    /// Positional and keyword arguments of a call, as Python passes them.
    public struct Arguments: Sendable {
        public var positional: [Value]
        public var keyword: [(String, Value)]
        public init(_ positional: [Value] = [], keyword: [(String, Value)] = []) { self.positional = positional; self.keyword = keyword }

        /// The argument at `index`, or the keyword `name`, or nil.
        public func get(_ index: Int, _ name: String) -> Value? {
            if index < positional.count { return positional[index] }
            return keyword.first { $0.0 == name }?.1
        }
    }

    /// Python's truthiness.
    public var truthy: Bool {
        switch self {
        case .undefined, .none: return false
        case .bool(let b): return b
        case .int(let i): return i != 0
        case .double(let d): return d != 0
        case .string(let s): return !s.isEmpty
        case .array(let a): return !a.isEmpty
        case .object(let o): return o.count > 0
        case .namespace, .function: return true
        }
    }

    public var isDefined: Bool { if case .undefined = self { return false } else { return true } }

    /// The Python type name, for error messages.
    var typeName: String {
        switch self {
        case .undefined: return "Undefined"
        case .none: return "NoneType"
        case .bool: return "bool"
        case .int: return "int"
        case .double: return "float"
        case .string: return "str"
        case .array: return "list"
        case .object: return "dict"
        case .namespace: return "Namespace"
        case .function: return "function"
        }
    }

    var number: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        case .bool(let b): return b ? 1 : 0
        default: return nil
        }
    }
}

extension Value: Equatable {
    /// Python's `==`: numbers compare by value across int, float and bool; an undefined equals
    /// only another undefined; functions never compare equal.
    public static func == (a: Value, b: Value) -> Bool {
        switch (a, b) {
        case (.undefined, .undefined), (.none, .none): return true
        case (.string(let x), .string(let y)): return x == y
        case (.array(let x), .array(let y)): return x == y
        case (.object(let x), .object(let y)): return x == y
        case (.namespace(let x), .namespace(let y)): return x === y
        default:
            if let x = a.number, let y = b.number { return x == y }
            return false
        }
    }
}

extension Value: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
                 ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral, ExpressibleByFloatLiteral {
    public init(stringLiteral s: String) { self = .string(s) }
    public init(integerLiteral i: Int) { self = .int(i) }
    public init(booleanLiteral b: Bool) { self = .bool(b) }
    public init(floatLiteral d: Double) { self = .double(d) }
    public init(arrayLiteral elements: Value...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, Value)...) { self = .object(Dictionary(elements)) }
    public init(nilLiteral: ()) { self = .none }
}
