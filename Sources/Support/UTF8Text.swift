import Foundation

/// A data file's bytes as text, refusing bytes that are not UTF-8 instead of replacing them
/// with U+FFFD (which would quietly change training and evaluation text); the error names the
/// file, the line and the byte.
public enum UTF8Text {
    public struct Invalid: Error, CustomStringConvertible {
        public let path: String, line: Int, byteOffset: Int
        public var description: String { "\(path):\(line): not valid UTF-8 (byte \(byteOffset) of the file); re-encode the file as UTF-8" }
    }

    public static func decode(_ data: Data, path: String) throws -> String {
        if let text = String(data: data, encoding: .utf8) { return text }
        // The first character that does not decode, found by its lead byte's length.
        let bytes = [UInt8](data)
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            let n = b < 0x80 ? 1 : (0xC2...0xDF).contains(b) ? 2 : (0xE0...0xEF).contains(b) ? 3 : (0xF0...0xF4).contains(b) ? 4 : 0
            guard n > 0, i + n <= bytes.count, String(bytes: bytes[i..<(i + n)], encoding: .utf8) != nil else { break }
            i += n
        }
        throw Invalid(path: path, line: 1 + bytes[0..<i].filter { $0 == 0x0A }.count, byteOffset: i)
    }
}
