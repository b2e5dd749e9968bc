import Crypto
import Foundation

/// Lower-case hex SHA-256 (swift-crypto's, hardware-accelerated through BoringSSL).
public enum Hex {
    public static func sha256(_ text: String) -> String { sha256(Data(text.utf8)) }
    public static func sha256(_ data: Data) -> String { string(SHA256.hash(data: data)) }
    static func string<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 { digest.map { String(format: "%02x", $0) }.joined() }
}

/// Content keys: the hash of a job's inputs, joined with a separator no field contains.
public enum ContentKey {
    public static func of(_ parts: String...) -> String { of(parts) }
    public static func of(_ parts: [String]) -> String { Hex.sha256(parts.joined(separator: "\u{1F}")) }
    /// A random seed drawn from a key (its first 64 bits), so that whatever is sampled for the
    /// key does not depend on the order or batch it is made in.
    public static func seed(_ key: String) -> UInt64 { UInt64(key.prefix(16), radix: 16) ?? 0 }

    /// Case, punctuation and whitespace folded away, so that "How do I X?" and "how do i x"
    /// count as the same prompt when checking that evaluation prompts never reach training.
    public static func normalized(_ text: String) -> String {
        let folded = text.lowercased().unicodeScalars.map { CharacterSet.alphanumerics.contains($0) ? Character($0) : " " }
        return String(folded).split(separator: " ").joined(separator: " ")
    }

    public static func normalizedHash(_ text: String) -> String { Hex.sha256(normalized(text)) }
}
