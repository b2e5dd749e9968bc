import Support
import Foundation
import Jobs
import Judges

/// Counts and token lengths of data files: SFT records (`messages`), preference records
/// (`prompt`/`chosen`/`rejected`) and query files (`kind`/`prompt`).
public struct DataStats: Codable, Sendable {
    public struct Lengths: Codable, Sendable, Equatable {
        public var count = 0, min = 0, max = 0
        public var mean = 0.0, median = 0.0, p95 = 0.0

        public init(_ values: [Int]) {
            guard !values.isEmpty else { return }
            let s = values.sorted()
            count = s.count; min = s.first!; max = s.last!
            mean = Double(s.reduce(0, +)) / Double(s.count)
            median = s.count % 2 == 1 ? Double(s[s.count / 2]) : Double(s[s.count / 2 - 1] + s[s.count / 2]) / 2
            p95 = Double(s[Swift.min(s.count - 1, Int((Double(s.count) * 0.95).rounded(.up)) - 1)])
        }
    }

    public struct FileStats: Codable, Sendable {
        public var path: String
        public var type: String
        public var records = 0
        public var byKind: [String: Int] = [:]
        public var byCategory: [String: Int] = [:]
        public var byFamily: [String: Int] = [:]
        public var bySplit: [String: Int] = [:]
        public var byPairType: [String: Int] = [:]
        public var bySource: [String: Int] = [:]
        /// Token lengths: prompt, response (SFT), chosen and rejected (preferences), and the
        /// reasoning and answer parts of responses.
        public var tokens: [String: Lengths] = [:]
    }

    public var files: [FileStats]

    /// Reads each file (a folder means its *.jsonl files, sorted). `tokens` counts a text's tokens.
    public static func compute(paths: [String], tokens: (String) -> Int, format: ResponseFormat) throws -> DataStats {
        var files: [String] = []
        for p in paths {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: p, isDirectory: &isDir) else { throw SourceError.missing(p) }
            if isDir.boolValue {
                files += try FileManager.default.contentsOfDirectory(atPath: p).filter { $0.hasSuffix(".jsonl") }.sorted().map { (p as NSString).appendingPathComponent($0) }
            } else { files.append(p) }
        }
        return DataStats(files: try files.map { try fileStats($0, tokens: tokens, format: format) })
    }

    static func text(_ v: Any?) -> String {
        if let s = v as? String { return s }
        if let m = v as? [[String: Any]] { return m.compactMap { $0["content"] as? String }.joined(separator: "\n") }
        return ""
    }

    static func fileStats(_ path: String, tokens: (String) -> Int, format: ResponseFormat) throws -> FileStats {
        var s = FileStats(path: path, type: "unknown")
        var lengths: [String: [Int]] = [:]
        for (line, obj) in try JSONL.readObjects(path) {
            let type: String
            var meta = obj["meta"] as? [String: Any] ?? [:]
            if obj["messages"] != nil { type = "sft" } else if obj["chosen"] != nil && obj["rejected"] != nil { type = "preference" } else if obj["kind"] != nil && obj["prompt"] != nil {
                type = "queries"
                meta = obj
            } else { throw SourceError.malformed(path: path, line: line, reason: "neither an SFT record (messages), a preference record (prompt, chosen, rejected) nor a query (kind, prompt)") }
            if s.type == "unknown" { s.type = type }
            s.records += 1
            func count(_ key: String, _ into: inout [String: Int]) { if let v = meta[key] as? String { into[v, default: 0] += 1 } }
            count("kind", &s.byKind); count("category", &s.byCategory); count("family", &s.byFamily); count("split", &s.bySplit)
            count("pair_type", &s.byPairType); count("source", &s.bySource)
            if type == "queries", let seed = obj["seed"] as? [String: Any] {
                if let c = seed["category"] as? String { s.byCategory[c, default: 0] += 1 }
                if let src = seed["source"] as? String { s.bySource[src, default: 0] += 1 }
            }
            switch type {
            case "sft":
                let msgs = obj["messages"] as? [[String: Any]] ?? []
                let response = msgs.last { ($0["role"] as? String) == "assistant" }?["content"] as? String ?? ""
                lengths["prompt", default: []].append(tokens(text(msgs.filter { ($0["role"] as? String) != "assistant" })))
                lengths["response", default: []].append(tokens(response))
                let parts = format.parse(response)
                if let r = parts.reasoning { lengths["reasoning", default: []].append(tokens(r)) }
                lengths["answer", default: []].append(tokens(parts.answer))
            case "preference":
                lengths["prompt", default: []].append(tokens(text(obj["prompt"])))
                lengths["chosen", default: []].append(tokens(text(obj["chosen"])))
                lengths["rejected", default: []].append(tokens(text(obj["rejected"])))
            default:
                lengths["prompt", default: []].append(tokens(text(obj["prompt"])))
            }
        }
        s.tokens = lengths.mapValues(Lengths.init)
        return s
    }

    /// A plain-text table for the terminal.
    public func rendered() -> String {
        var out = ""
        for f in files {
            out += "\(f.path): \(f.records) \(f.type) records\n"
            for (title, d) in [("kind", f.byKind), ("category", f.byCategory), ("family", f.byFamily), ("split", f.bySplit), ("pair type", f.byPairType), ("source", f.bySource)] where !d.isEmpty {
                out += "  by \(title): " + d.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + "\n"
            }
            for (k, l) in f.tokens.sorted(by: { $0.key < $1.key }) {
                out += String(format: "  tokens %@: mean %.1f, median %.0f, p95 %.0f, min %d, max %d\n", k, l.mean, l.median, l.p95, l.min, l.max)
            }
        }
        return out
    }
}

