/// GPT-2's byte-level alphabet: every byte maps to one printable Unicode character, so BPE
/// can work on text without ever seeing a control character or a lone UTF-8 byte. Printable
/// Latin-1 bytes map to themselves; the other 68 bytes map to U+0100 onwards, in byte order.
public enum ByteLevel {
    public static let byteToScalar: [Unicode.Scalar] = {
        var printable = Set<Int>()
        for r in [0x21...0x7E, 0xA1...0xAC, 0xAE...0xFF] { printable.formUnion(r) }
        var out = [Unicode.Scalar](repeating: " ", count: 256)
        var next = 0
        for b in 0..<256 {
            if printable.contains(b) {
                out[b] = Unicode.Scalar(UInt32(b))!
            } else {
                out[b] = Unicode.Scalar(UInt32(256 + next))!
                next += 1
            }
        }
        return out
    }()

    public static let scalarToByte: [UInt32: UInt8] = {
        var m: [UInt32: UInt8] = [:]
        for (b, s) in byteToScalar.enumerated() { m[s.value] = UInt8(b) }
        return m
    }()

    /// The byte-level string of some UTF-8 text.
    public static func encode(_ text: Substring) -> String {
        var s = String.UnicodeScalarView()
        for b in text.utf8 { s.append(byteToScalar[Int(b)]) }
        return String(s)
    }

    /// The bytes behind a byte-level string; characters outside the alphabet are kept as
    /// their own UTF-8 (as added tokens are).
    public static func decode(_ token: String, into bytes: inout [UInt8]) {
        for s in token.unicodeScalars {
            if let b = scalarToByte[s.value] { bytes.append(b) } else { bytes.append(contentsOf: String(s).utf8) }
        }
    }
}
