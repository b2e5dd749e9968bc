import Foundation

/// A judge model's reply of "Label: value" lines, as the rubric and step judges ask for: labels
/// lowercased, markdown bold and surrounding spaces trimmed from both sides; the last line of a
/// label wins.
enum LabelledReply {
    static func fields(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for line in text.split(whereSeparator: \.isNewline) {
            let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces.union(CharacterSet(charactersIn: "*"))) }
            guard parts.count == 2 else { continue }
            fields[parts[0].lowercased()] = parts[1]
        }
        return fields
    }
}
