import Foundation

/// Errors of input files and data sources: a missing or malformed file (with its line), an
/// unknown source name, a failed fetch, training prompts that leak into evaluation.
public enum SourceError: Error, CustomStringConvertible {
    case missing(String)
    case malformed(path: String, line: Int, reason: String)
    case unknownSource(String, known: [String])
    case fetchFailed(String)
    case leakage(count: Int, examples: [String])

    public var description: String {
        switch self {
        case .missing(let p): return "\(p): no such file"
        case .malformed(let p, let l, let r): return "\(p):\(l): \(r)"
        case .unknownSource(let s, let k): return "unknown seed source '\(s)' (known: \(k.joined(separator: ", ")); or file:PATH for a CSV or JSONL file)"
        case .fetchFailed(let r): return "fetching a data package failed: \(r)"
        case .leakage(let n, let ex): return "\(n) training prompt(s) are also evaluation prompts (normalized-text match), refusing to build; for example: \(ex.prefix(3).map { "\"\($0.prefix(80))\"" }.joined(separator: "; "))"
        }
    }
}
