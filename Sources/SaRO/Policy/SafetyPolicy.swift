import Foundation
import Yams

public enum PolicyError: Error, CustomStringConvertible {
    case unreadable(path: String)
    case invalid(path: String, reason: String)

    public var description: String {
        switch self {
        case .unreadable(let p): return "\(p): cannot read the policy file"
        case .invalid(let p, let r): return "\(p): \(r)"
        }
    }
}

/// A safety policy: hazard categories, each with what is not allowed and what stays allowed,
/// plus free text. Stored as Markdown with YAML front matter (or plain YAML), versioned, and
/// replaceable by the user (`--policy FILE`).
public struct SafetyPolicy: Codable, Sendable, Equatable {
    public struct Category: Codable, Sendable, Equatable {
        public var code: String
        public var name: String
        public var notAllowed: [String]
        public var allowed: [String]
        /// What to offer instead when refusing in this category.
        public var safeAlternative: String
        /// Words that point to this category (lower case; a word may be a prefix, "discriminat").
        public var keywords: [String]

        enum CodingKeys: String, CodingKey {
            case code, name, notAllowed = "not_allowed", allowed, safeAlternative = "safe_alternative", keywords
        }
    }

    public var name: String
    public var version: Int
    public var description: String?
    public var categories: [Category]
    /// The Markdown body (general principles).
    public var text: String = ""

    enum CodingKeys: String, CodingKey { case name, version, description, categories }

    public static let allowedKeys: Set<String> = ["name", "version", "description", "categories"]

    /// The default: Llama Guard 3's taxonomy S1-S14.
    public static func builtIn() throws -> SafetyPolicy {
        return try load(path: try SaROResources.path("policy/llama-guard-3.md"))
    }

    public static func load(path: String?) throws -> SafetyPolicy {
        guard let path else { return try builtIn() }
        guard let data = FileManager.default.contents(atPath: path) else { throw PolicyError.unreadable(path: path) }
        return try parse(String(decoding: data, as: UTF8.self), path: path)
    }

    public static func parse(_ source: String, path: String) throws -> SafetyPolicy {
        var yaml = source
        var body = ""
        if source.hasPrefix("---") {
            let lines = source.components(separatedBy: "\n")
            guard let end = lines.dropFirst().firstIndex(where: { $0.trimmingCharacters(in: .whitespaces) == "---" }) else {
                throw PolicyError.invalid(path: path, reason: "front matter opened with --- but never closed")
            }
            yaml = lines[1..<end].joined(separator: "\n")
            body = lines[(end + 1)...].joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let node: Any?
        do { node = try Yams.load(yaml: yaml) } catch { throw PolicyError.invalid(path: path, reason: "YAML: \(error)") }
        guard let dict = node as? [String: Any] else { throw PolicyError.invalid(path: path, reason: "expected a mapping with name, version, categories") }
        if let unknown = dict.keys.first(where: { !allowedKeys.contains($0) }) {
            throw PolicyError.invalid(path: path, reason: "unknown key '\(unknown)' (allowed: \(allowedKeys.sorted().joined(separator: ", ")))")
        }
        var policy: SafetyPolicy
        do { policy = try YAMLDecoder().decode(SafetyPolicy.self, from: yaml) } catch {
            throw PolicyError.invalid(path: path, reason: "\(error)")
        }
        if policy.categories.isEmpty { throw PolicyError.invalid(path: path, reason: "no categories") }
        var seen = Set<String>()
        for c in policy.categories where !seen.insert(c.code).inserted { throw PolicyError.invalid(path: path, reason: "category code \(c.code) appears twice") }
        policy.text = body
        return policy
    }

    public func category(_ code: String?) -> Category? { categories.first { $0.code == code } }

    /// A fingerprint of the policy's content, part of every teacher cache key.
    public var fingerprint: String {
        let cats = categories.map { "\($0.code)|\($0.name)|\($0.notAllowed.joined(separator: ";"))|\($0.allowed.joined(separator: ";"))" }
        return "\(name)@\(version):" + cats.joined(separator: "#") + text
    }

    /// The category whose keywords best match a text (ties go to the earlier category), or
    /// nil when no keyword matches.
    public func classify(_ text: String) -> Category? {
        let t = " " + text.lowercased() + " "
        var best: (Category, Int)?
        for c in categories {
            let score = c.keywords.reduce(0) { $0 + (t.contains($1.lowercased()) ? 1 : 0) }
            if score > 0 && score > (best?.1 ?? 0) { best = (c, score) }
        }
        return best?.0
    }

    /// Keywords of any category that occur in a text: what makes a benign prompt look risky.
    public func triggerWords(in text: String) -> [(word: String, category: Category)] {
        let t = text.lowercased()
        var out: [(String, Category)] = []
        for c in categories { for k in c.keywords where t.contains(k.lowercased()) { out.append((k, c)) } }
        return out
    }

    /// The policy as text for a teacher prompt.
    public func rendered() -> String {
        var s = "Safety policy \(name) (version \(version))\n\n"
        for c in categories {
            s += "\(c.code) \(c.name). Not allowed: \(c.notAllowed.joined(separator: "; ")). Allowed: \(c.allowed.joined(separator: "; ")).\n"
        }
        if !text.isEmpty { s += "\n" + text + "\n" }
        return s
    }
}
