import Foundation

/// RFC 4180 CSV: quoted fields may hold commas, quotes ("") and newlines. Lines starting with
/// '#' before the header are comments (PyRIT's files carry a version line).
public enum CSV {
    public struct Row { public let line: Int; public let fields: [String: String] }

    public static func read(_ path: String) throws -> [Row] {
        guard let data = FileManager.default.contents(atPath: path) else { throw SourceError.missing(path) }
        return try parse(try UTF8Text.decode(data, path: path), path: path)
    }

    public static func parse(_ text: String, path: String) throws -> [Row] {
        var records: [(Int, [String])] = []
        var field = "", record: [String] = [], inQuotes = false, line = 1, recordLine = 1
        var chars = Array(text.unicodeScalars)[...]
        // Skip leading comment lines.
        while chars.first == "#" {
            while let c = chars.popFirst(), c != "\n" {}
            line += 1; recordLine = line
        }
        while let c = chars.popFirst() {
            if inQuotes {
                if c == "\"" {
                    if chars.first == "\"" { chars.removeFirst(); field.unicodeScalars.append("\"") } else { inQuotes = false }
                } else {
                    if c == "\n" { line += 1 }
                    field.unicodeScalars.append(c)
                }
                continue
            }
            switch c {
            case "\"": inQuotes = true
            case ",": record.append(field); field = ""
            case "\r": continue
            case "\n":
                record.append(field); field = ""
                if !(record.count == 1 && record[0].isEmpty) { records.append((recordLine, record)) }
                record = []; line += 1; recordLine = line
            default: field.unicodeScalars.append(c)
            }
        }
        if inQuotes { throw SourceError.malformed(path: path, line: recordLine, reason: "unterminated quoted field") }
        if !field.isEmpty || !record.isEmpty { record.append(field); records.append((recordLine, record)) }
        guard let header = records.first?.1 else { return [] }
        return try records.dropFirst().map { (ln, values) in
            guard values.count == header.count else {
                throw SourceError.malformed(path: path, line: ln, reason: "\(values.count) fields where the header has \(header.count)")
            }
            return Row(line: ln, fields: Dictionary(zip(header, values), uniquingKeysWith: { a, _ in a }))
        }
    }
}

