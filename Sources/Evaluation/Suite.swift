import Foundation
import SaRO
import Yams

/// A list of benchmarks in a YAML file:
///
///     name: default
///     max_tokens: 384
///     benchmarks:
///       - {name: harmbench, limit: 50}
///       - {name: jailbreak, per_family: 5}
///       - {name: xstest}
///       - {name: gsm8k, limit: 50}
///       - {name: nll-gsm8k, limit: 100}
public struct Suite: Sendable {
    public struct Entry: Codable, Sendable, Equatable {
        public var name: String
        public var limit: Int?
        public var perFamily: Int?
        public var source: String?
        enum CodingKeys: String, CodingKey { case name, limit, perFamily = "per_family", source }
    }

    public var name: String
    public var maxTokens: Int
    public var entries: [Entry]

    public static let benchmarkNames = ["harmbench", "jailbreakbench", "harmful", "jailbreak", "xstest", "gsm8k", "nll-gsm8k", "nll-humaneval"]

    public init(name: String, maxTokens: Int, entries: [Entry]) { self.name = name; self.maxTokens = maxTokens; self.entries = entries }

    /// Built-in suite names (default, full, quick).
    public static let builtIn = ["default", "full", "small", "quick"]

    /// A built-in suite by name, or a YAML file.
    public static func named(_ nameOrPath: String) throws -> Suite {
        if builtIn.contains(nameOrPath) { return try load(path: try EvaluationResources.path("suites/\(nameOrPath).yaml")) }
        return try load(path: nameOrPath)
    }

    public static func load(path: String) throws -> Suite {
        guard let data = FileManager.default.contents(atPath: path) else { throw SourceError.missing(path) }
        return try parse(String(decoding: data, as: UTF8.self), path: path)
    }

    public static func parse(_ text: String, path: String) throws -> Suite {
        let composed: Node?
        do { composed = try Yams.compose(yaml: text) } catch {
            throw SourceError.malformed(path: path, line: YAMLErrorLine.of(error), reason: "not valid YAML: \(error)")
        }
        guard let root = composed, let map = root.mapping else {
            throw SourceError.malformed(path: path, line: 1, reason: "expected a mapping with name, max_tokens, benchmarks")
        }
        for (k, _) in map where !["name", "max_tokens", "benchmarks"].contains(k.string ?? "") {
            throw SourceError.malformed(path: path, line: (k.mark?.line ?? 0), reason: "unknown suite key '\(k.string ?? "?")' (known: name, max_tokens, benchmarks)")
        }
        guard let list = map["benchmarks"]?.sequence else { throw SourceError.malformed(path: path, line: 1, reason: "no 'benchmarks' list") }
        var entries: [Entry] = []
        for node in list {
            let line = node.mark?.line ?? 0
            for (k, _) in node.mapping ?? [:] where !["name", "limit", "per_family", "source"].contains(k.string ?? "") {
                throw SourceError.malformed(path: path, line: line, reason: "unknown benchmark key '\(k.string ?? "?")' (known: name, limit, per_family, source)")
            }
            let e: Entry
            do { e = try YAMLDecoder().decode(Entry.self, from: try Yams.serialize(node: node)) } catch {
                throw SourceError.malformed(path: path, line: line, reason: "\(error)")
            }
            guard benchmarkNames.contains(e.name) else {
                throw SourceError.malformed(path: path, line: line, reason: "unknown benchmark '\(e.name)' (known: \(benchmarkNames.joined(separator: ", ")))")
            }
            if let limit = e.limit, limit < 0 { throw SourceError.malformed(path: path, line: line, reason: "limit \(limit) is negative (0 or more; leave it out for all)") }
            if let n = e.perFamily, n < 1 { throw SourceError.malformed(path: path, line: line, reason: "per_family \(n) must be at least 1") }
            if e.name == "harmful" && e.source == nil { throw SourceError.malformed(path: path, line: line, reason: "benchmark 'harmful' needs a source") }
            entries.append(e)
        }
        let maxTokens = map["max_tokens"].map { $0.int } ?? 384
        guard let maxTokens, maxTokens >= 1 else {
            throw SourceError.malformed(path: path, line: (map["max_tokens"]?.mark?.line ?? 0), reason: "max_tokens must be a whole number of at least 1")
        }
        return Suite(name: map["name"]?.string ?? URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent,
                     maxTokens: maxTokens, entries: entries)
    }

    public func benchmarks() -> [Benchmark] {
        entries.map { e -> Benchmark in
            switch e.name {
            case "harmbench": return HarmfulBenchmark(name: "harmbench", source: "harmbench", limit: e.limit)
            case "jailbreakbench": return HarmfulBenchmark(name: "jailbreakbench", source: "jailbreakbench", limit: e.limit)
            case "harmful": return HarmfulBenchmark(name: "harmful-\(e.source!)", source: e.source!, limit: e.limit)
            case "jailbreak": return JailbreakBenchmark(perFamily: e.perFamily)
            case "xstest": return XSTestBenchmark(limit: e.limit)
            case "gsm8k": return GSM8KBenchmark(limit: e.limit)
            case "nll-gsm8k": return ReferenceNLLBenchmark(name: "nll-gsm8k", source: "gsm8k-test", limit: e.limit)
            default: return ReferenceNLLBenchmark(name: "nll-humaneval", source: "humaneval-eval", limit: e.limit)
            }
        }
    }
}
