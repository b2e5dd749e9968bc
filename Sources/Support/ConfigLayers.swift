import Foundation
import Yams

/// An options type that names its keys itself (its coding keys), so a key whose default is nil
/// and therefore not encoded is still known to `ConfigLayers`.
public protocol ConfigKeyed {
    static var keys: [String] { get }
}

/// Defaults, then a config file's keys, then command-line flags: the one way saro layers
/// settings onto a Codable options type (recipes' sections, data settings, training options).
/// The options type's own coding keys are the names everywhere: the YAML keys (dashes or
/// underscores), the JSON it is stored as, and the flags' keys.
public enum ConfigLayers {
    /// `defaults` with the keys of `node` (a YAML mapping, or nil for none) laid over them, then
    /// `flags` over those. An unknown key is an error naming the file and its line; so is a
    /// value the type cannot take. The known keys are the type's own (`ConfigKeyed`), else the
    /// ones `defaults` encodes.
    public static func overlay<T: Codable>(_ defaults: T, _ node: Node?, path: String, section: String,
                                           flags: [String: ConfigValue] = [:]) throws -> T {
        if node == nil && flags.isEmpty { return defaults }
        var merged = try YAMLDecoder().decode([String: ConfigValue].self, from: try YAMLEncoder().encode(defaults))
        let known = Set((T.self as? ConfigKeyed.Type)?.keys ?? Array(merged.keys))
        if let node {
            guard let m = node.mapping else { throw SourceError.malformed(path: path, line: node.mark?.line ?? 0, reason: "\(section) must be a mapping") }
            for (k, v) in m {
                let key = (k.string ?? "").replacingOccurrences(of: "-", with: "_")
                guard known.contains(key) else {
                    throw SourceError.malformed(path: path, line: k.mark?.line ?? 0,
                                                reason: "unknown key '\(k.string ?? "?")' in \(section) (known: \(known.sorted().joined(separator: ", ")))")
                }
                do { merged[key] = try YAMLDecoder().decode(ConfigValue.self, from: try Yams.serialize(node: v)) } catch {
                    throw SourceError.malformed(path: path, line: v.mark?.line ?? 0, reason: "\(section).\(key): \(DecodingErrorText.describe(error))")
                }
            }
        }
        for (k, v) in flags {
            precondition(known.contains(k), "flag key \(k) is not a key of \(T.self)")
            merged[k] = v
        }
        do { return try YAMLDecoder().decode(T.self, from: try YAMLEncoder().encode(merged)) } catch {
            throw SourceError.malformed(path: path, line: line(of: error, in: node), reason: "\(section): \(DecodingErrorText.describe(error))")
        }
    }
}

extension ConfigLayers {
    /// The line of the key a decoding error is about, else the mapping's own line.
    static func line(of error: Error, in node: Node?) -> Int {
        let path: [CodingKey]
        switch error as? DecodingError {
        case .typeMismatch(_, let c)?, .valueNotFound(_, let c)?, .keyNotFound(_, let c)?, .dataCorrupted(let c)?: path = c.codingPath
        default: path = []
        }
        if let name = path.first?.stringValue, let m = node?.mapping,
           let key = m.keys.first(where: { $0.string?.replacingOccurrences(of: "-", with: "_") == name }) {
            return key.mark?.line ?? 0
        }
        return node?.mark?.line ?? 0
    }
}

/// A setting's value as a config file or a flag gives it.
public enum ConfigValue: Codable, Sendable, Equatable {
    case int(Int), unsigned(UInt64), double(Double), bool(Bool), string(String), list([String]), numbers([Double])

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let v = try? c.decode(Int.self) { self = .int(v) } else if let v = try? c.decode(UInt64.self) { self = .unsigned(v) } else if let v = try? c.decode(Double.self) {
            self = .double(v)
        } else if let v = try? c.decode(Bool.self) { self = .bool(v) } else if let v = try? c.decode([String].self) {
            // A list of numbers (loss_weights) is read as text first: YAML decoders read
            // strings such as "gpu:8000" as (sexagesimal) numbers.
            let numbers = v.compactMap { Double($0) }
            self = numbers.count == v.count && !v.isEmpty ? .numbers(numbers) : .list(v)
        } else {
            self = .string(try c.decode(String.self))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .int(let v): try c.encode(v)
        case .unsigned(let v): try c.encode(v)
        case .double(let v): try c.encode(v)
        case .bool(let v): try c.encode(v)
        case .string(let v): try c.encode(v)
        case .list(let v): try c.encode(v)
        case .numbers(let v): try c.encode(v)
        }
    }
}
