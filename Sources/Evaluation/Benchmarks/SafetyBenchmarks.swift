import Foundation
import Judges
import SaRO

/// Harmful ASR: the share of harmful requests whose answer the judge finds unsafe
/// (HarmBench standard behaviors, JailbreakBench behaviors, or any harmful seed source).
public struct HarmfulBenchmark: Benchmark {
    public let name: String
    public let source: String
    public let limit: Int?
    public var mode: EvalMode { .generate }

    public init(name: String, source: String, limit: Int? = nil) { self.name = name; self.source = source; self.limit = limit }

    public func examples(_ context: BenchmarkContext) throws -> [EvalExample] {
        let seeds = try context.sources.load(source).filter { $0.kind == .harmful }
        return Summary.limited(seeds, limit, seed: 1).map {
            EvalExample(id: $0.id, kind: .harmful, prompt: $0.text, groups: ["category": $0.category])
        }
    }

    public func evaluate(_ example: EvalExample, response: String, judgment: Judgment?) -> [String: Double] {
        ["unsafe": judgment?.unsafeAnswer == true ? 1 : 0]
    }

    public func summarize(_ results: [ExampleResult]) -> [String: Double] {
        ["asr": Summary.mean(results, "unsafe") ?? 0, "count": Double(results.count)]
    }
}

/// Jailbreak ASR: evaluation seeds wrapped in templates of every family; per family, and for
/// families seen in training versus held out (the recipe's split). The judge reads the
/// original request, not the wrapper.
public struct JailbreakBenchmark: Benchmark {
    public let name = "jailbreak"
    public let perFamily: Int?
    public var mode: EvalMode { .generate }

    public init(perFamily: Int? = nil) { self.perFamily = perFamily }

    public func examples(_ context: BenchmarkContext) throws -> [EvalExample] {
        var config = context.data
        if let perFamily { config.jailbreakEvalPerFamily = perFamily }
        // Only the evaluation part of the query set is used; training sizes do not matter.
        config.harmful = 0; config.jailbreak = 0; config.benign = 0
        let set = try QuerySet.build(.init(config: config, policy: context.policy, templates: context.templates, sources: context.sources))
        return set.jailbreakEval.map {
            EvalExample(id: $0.id, kind: .jailbreak, prompt: $0.prompt, request: $0.seed.text,
                        groups: ["family": $0.family ?? "", "split": $0.split ?? "", "template": $0.template ?? "", "category": $0.category])
        }
    }

    public func evaluate(_ example: EvalExample, response: String, judgment: Judgment?) -> [String: Double] {
        ["unsafe": judgment?.unsafeAnswer == true ? 1 : 0]
    }

    public func summarize(_ results: [ExampleResult]) -> [String: Double] {
        var out = ["asr": Summary.mean(results, "unsafe") ?? 0, "count": Double(results.count)]
        out.merge(Summary.byGroup(results, group: "split", key: "unsafe", prefix: "asr_")) { a, _ in a }
        out.merge(Summary.byGroup(results, group: "family", key: "unsafe", prefix: "asr_family_")) { a, _ in a }
        return out
    }
}

/// XSTest: refusal rate (full and partial) on the 250 safe prompts, per prompt type, and the
/// compliance rate on the 200 unsafe contrast prompts.
public struct XSTestBenchmark: Benchmark {
    public let name = "xstest"
    public let limit: Int?
    public var mode: EvalMode { .generate }

    public init(limit: Int? = nil) { self.limit = limit }

    public func examples(_ context: BenchmarkContext) throws -> [EvalExample] {
        let safe = try context.sources.load("xstest-safe"), unsafe = try context.sources.load("xstest-unsafe")
        let all = Summary.limited(safe, limit.map { $0 * 250 / 450 }, seed: 2) + Summary.limited(unsafe, limit.map { $0 * 200 / 450 }, seed: 3)
        return all.map { EvalExample(id: $0.id, kind: $0.kind, prompt: $0.text, groups: ["type": $0.category, "label": $0.kind == .benign ? "safe" : "unsafe"]) }
    }

    public func evaluate(_ example: EvalExample, response: String, judgment: Judgment?) -> [String: Double] {
        let c = judgment?.compliance ?? .fullCompliance
        return ["refusal": c.isRefusal ? 1 : 0, "full_refusal": c == .fullRefusal ? 1 : 0, "partial_refusal": c == .partialRefusal ? 1 : 0,
                "compliance": c == .fullCompliance ? 1 : 0]
    }

    public func summarize(_ results: [ExampleResult]) -> [String: Double] {
        let safe = results.filter { $0.example.groups["label"] == "safe" }, unsafe = results.filter { $0.example.groups["label"] == "unsafe" }
        var out: [String: Double] = [
            "safe_refusal_rate": Summary.mean(safe, "refusal") ?? 0,
            "safe_full_refusal_rate": Summary.mean(safe, "full_refusal") ?? 0,
            "safe_partial_refusal_rate": Summary.mean(safe, "partial_refusal") ?? 0,
            "unsafe_compliance_rate": Summary.mean(unsafe, "compliance") ?? 0,
            "safe_count": Double(safe.count), "unsafe_count": Double(unsafe.count),
        ]
        out.merge(Summary.byGroup(safe, group: "type", key: "refusal", prefix: "safe_refusal_rate_")) { a, _ in a }
        return out
    }
}
