import Support
import Foundation
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
        /// One part of a benchmark: `held-out` or `seen` template families (jailbreak),
        /// `safe` or `unsafe` prompts (xstest). The examples are those the whole benchmark
        /// draws with the same limits, so a part's prompts are also in the whole's.
        public var only: String?
        enum CodingKeys: String, CodingKey { case name, limit, perFamily = "per_family", source, only }

        public init(name: String, limit: Int? = nil, perFamily: Int? = nil, source: String? = nil, only: String? = nil) {
            self.name = name; self.limit = limit; self.perFamily = perFamily; self.source = source; self.only = only
        }

        /// The parts `only` can name, per benchmark.
        static let parts = ["jailbreak": ["held-out", "seen"], "xstest": ["safe", "unsafe"]]
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
            for (k, _) in node.mapping ?? [:] where !["name", "limit", "per_family", "source", "only"].contains(k.string ?? "") {
                throw SourceError.malformed(path: path, line: line, reason: "unknown benchmark key '\(k.string ?? "?")' (known: name, limit, per_family, source, only)")
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
            if let only = e.only, !(Entry.parts[e.name] ?? []).contains(only) {
                let known = Entry.parts[e.name].map { "one of \($0.joined(separator: ", "))" } ?? "none for \(e.name) (only jailbreak and xstest have parts)"
                throw SourceError.malformed(path: path, line: line, reason: "only '\(only)': \(known)")
            }
            entries.append(e)
        }
        let maxTokens = map["max_tokens"].map { $0.int } ?? 384
        guard let maxTokens, maxTokens >= 1 else {
            throw SourceError.malformed(path: path, line: (map["max_tokens"]?.mark?.line ?? 0), reason: "max_tokens must be a whole number of at least 1")
        }
        return Suite(name: map["name"]?.string ?? URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent,
                     maxTokens: maxTokens, entries: entries)
    }

    /// The part of this suite a frontier point needs: the held-out jailbreak families and
    /// XSTest's safe prompts, drawn as the whole suite draws them (the same prompts); nil when
    /// the suite has neither benchmark.
    public func frontierPart() -> Suite? {
        var out: [Entry] = []
        for e in entries {
            var part = e
            if e.name == "jailbreak" { part.only = "held-out" } else if e.name == "xstest" { part.only = "safe" } else { continue }
            out.append(part)
        }
        return out.count == 2 ? Suite(name: name + " (frontier part)", maxTokens: maxTokens, entries: out) : nil
    }

    /// The suite's benchmarks with their examples drawn from `sources`: each entry's `limit`
    /// picks that many at random (the same ones every time).
    public func benchmarks(_ sources: BenchmarkSources) throws -> [Benchmark] {
        try entries.map { e -> Benchmark in
            func harmful(_ name: String, _ source: String) throws -> Benchmark {
                HarmfulBenchmark(name: name, examples: Summary.limited(try sources.examples(source).filter { $0.kind == .harmful }, e.limit, seed: 1).map {
                    EvalExample(id: $0.id, kind: .harmful, prompt: $0.prompt, groups: ["category": $0.groups["category"] ?? ""])
                })
            }
            /// Prompt and reference only (capability sets are not broken down by group).
            func referenced(_ source: String, seed: UInt64) throws -> [EvalExample] {
                Summary.limited(try sources.examples(source).filter { $0.reference != nil }, e.limit, seed: seed).map {
                    EvalExample(id: $0.id, kind: .benign, prompt: $0.prompt, reference: $0.reference)
                }
            }
            switch e.name {
            case "harmbench": return try harmful("harmbench", "harmbench")
            case "jailbreakbench": return try harmful("jailbreakbench", "jailbreakbench")
            case "harmful": return try harmful("harmful-\(e.source!)", e.source!)
            case "jailbreak":
                let split = e.only.map { $0 == "held-out" ? "held_out" : "train" }
                return JailbreakBenchmark(examples: try sources.jailbreakExamples(perFamily: e.perFamily).filter { split == nil || $0.groups["split"] == split })
            case "xstest":
                // XSTest has 250 safe and 200 unsafe prompts: a limit keeps that ratio.
                let safe = e.only == "unsafe" ? [] : Summary.limited(try sources.examples("xstest-safe"), e.limit.map { $0 * 250 / 450 }, seed: 2)
                let unsafe = e.only == "safe" ? [] : Summary.limited(try sources.examples("xstest-unsafe"), e.limit.map { $0 * 200 / 450 }, seed: 3)
                return XSTestBenchmark(examples: (safe + unsafe).map {
                    EvalExample(id: $0.id, kind: $0.kind, prompt: $0.prompt, groups: ["type": $0.groups["category"] ?? "", "label": $0.kind == .benign ? "safe" : "unsafe"])
                })
            case "gsm8k": return GSM8KBenchmark(examples: try referenced("gsm8k-test", seed: 4))
            case "nll-gsm8k": return ReferenceNLLBenchmark(name: "nll-gsm8k", examples: try referenced("gsm8k-test", seed: 5))
            default: return ReferenceNLLBenchmark(name: "nll-humaneval", examples: try referenced("humaneval-eval", seed: 5))
            }
        }
    }
}
