import Support
import Foundation
import Tensor

public enum JSONLError: Error, CustomStringConvertible {
    case malformed(path: String, line: Int, reason: String)
    case missingFile(String)

    public var description: String {
        switch self {
        case .malformed(let p, let l, let r): return "\(p):\(l): \(r)"
        case .missingFile(let p): return "\(p): no such file"
        }
    }
}

/// JSON Lines files: read with line numbers in every error, written atomically (a temporary
/// file renamed into place), so a reader never sees half a file.
public enum JSONL {
    public static func readObjects(_ path: String) throws -> [(line: Int, object: [String: Any])] {
        guard let data = FileManager.default.contents(atPath: path) else { throw JSONLError.missingFile(path) }
        var out: [(Int, [String: Any])] = []
        for (i, line) in try UTF8Text.decode(data, path: path).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            guard let obj = try? JSONSerialization.jsonObject(with: Data(trimmed.utf8)) else {
                throw JSONLError.malformed(path: path, line: i + 1, reason: "not valid JSON")
            }
            guard let dict = obj as? [String: Any] else { throw JSONLError.malformed(path: path, line: i + 1, reason: "expected a JSON object") }
            out.append((i + 1, dict))
        }
        return out
    }

    public static func read<T: Decodable>(_ type: T.Type, _ path: String) throws -> [T] {
        guard let data = FileManager.default.contents(atPath: path) else { throw JSONLError.missingFile(path) }
        var out: [T] = []
        for (i, line) in try UTF8Text.decode(data, path: path).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.trimmingCharacters(in: .whitespaces).isEmpty { continue }
            do { out.append(try JSONDecoder().decode(T.self, from: Data(line.utf8))) } catch {
                throw JSONLError.malformed(path: path, line: i + 1, reason: DecodingErrorText.describe(error))
            }
        }
        return out
    }

    public static func encodeLine<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    public static func write<T: Encodable>(_ values: [T], to path: String) throws {
        try writeAtomically(try values.map(encodeLine).map { $0 + "\n" }.joined(), to: path)
    }

    public static func writeAtomically(_ text: String, to path: String) throws {
        try AtomicFile.write(Data(text.utf8), to: path)
    }

    /// One value as a pretty-printed JSON document (keys sorted, slashes as they are, a final
    /// newline), written atomically: the results, reports and records saro keeps.
    public static func writeDocument<T: Encodable>(_ value: T, to path: String) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try writeAtomically(String(decoding: try enc.encode(value), as: UTF8.self) + "\n", to: path)
    }

}
