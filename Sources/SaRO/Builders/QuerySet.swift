import Support
import Foundation
import Jobs
import Judges
import Tensor

/// The queries a build uses: harmful seeds, harmful seeds wrapped in training-family
/// templates, benign seeds; and, apart from them, the jailbreak evaluation queries (evaluation
/// seeds in every family, seen and held-out). Selection is deterministic for a seed.
public struct QuerySet: Codable, Sendable {
    public var training: [Query]
    public var jailbreakEval: [Query]

    public struct Inputs: Sendable {
        public var config: DataConfig
        public var policy: SafetyPolicy
        public var templates: TemplateLibrary
        public var sources: SeedSources
        public init(config: DataConfig, policy: SafetyPolicy, templates: TemplateLibrary, sources: SeedSources) {
            self.config = config; self.policy = policy; self.templates = templates; self.sources = sources
        }
    }

    /// Loads every source the config names, draws the queries, and refuses (throws
    /// `SourceError.leakage`) when a training prompt is also an evaluation prompt.
    public static func build(_ inputs: Inputs) throws -> QuerySet {
        let c = inputs.config
        var rng = SplitMix64(seed: c.seed &+ 0x5A_50)
        let harmfulPools = try c.harmfulSources.map { try inputs.sources.load($0).filter { $0.kind == .harmful } }
        let benignPools = try c.benignSources.map { try inputs.sources.load($0).filter { $0.kind == .benign } }
        var evalSeeds: [Seed] = []
        for s in Set(c.evalSources + c.jailbreakEvalSources).sorted() { evalSeeds += try inputs.sources.load(s) }
        let evalHashes = Set(evalSeeds.map(\.normalizedHash))

        // Harmful seeds that are also evaluation prompts are set aside before drawing (the
        // harmful sets overlap: AdvBench goals reappear in HarmBench and JailbreakBench).
        let cleanHarmful = harmfulPools.map { $0.filter { !evalHashes.contains($0.normalizedHash) } }
        let drawn = roundRobin(cleanHarmful.map { shuffled($0, &rng) }, count: c.harmful + c.jailbreak)
        let harmfulSeeds = Array(drawn.prefix(c.harmful))
        let jailbreakSeeds = Array(drawn.dropFirst(c.harmful))
        let benignSeeds = roundRobin(benignPools.map { shuffled($0, &rng) }, count: c.benign)

        let trainTemplates = inputs.templates.split(heldOut: Set(c.heldOutFamilies)).train
        let trainFamilies = Dictionary(grouping: trainTemplates, by: \.family)
        let familyNames = trainFamilies.keys.sorted()
        var training = harmfulSeeds.map(Query.init(seed:))
        if !familyNames.isEmpty {
            for (i, seed) in jailbreakSeeds.enumerated() {
                let family = trainFamilies[familyNames[i % familyNames.count]]!
                let t = family[Int(rng.next() % UInt64(family.count))]
                training.append(Query(seed: seed, wrapped: t.apply(seed.text), template: t, split: "train"))
            }
        }
        training += benignSeeds.map(Query.init(seed:))

        let leaked = training.filter { evalHashes.contains($0.seed.normalizedHash) || evalHashes.contains(ContentKey.normalizedHash($0.prompt)) }
        if !leaked.isEmpty { throw SourceError.leakage(count: leaked.count, examples: leaked.map(\.seed.text)) }

        let jailbreakEval = try JailbreakEvalSet.build(config: c, templates: inputs.templates, sources: inputs.sources)
        return QuerySet(training: training, jailbreakEval: jailbreakEval)
    }

    static func shuffled<T>(_ a: [T], _ rng: inout SplitMix64) -> [T] {
        var a = a
        if a.count > 1 { for i in stride(from: a.count - 1, to: 0, by: -1) { a.swapAt(i, Int(rng.next() % UInt64(i + 1))) } }
        return a
    }

    /// Takes from each pool in turn until `count` items (or the pools run out).
    static func roundRobin<T>(_ pools: [[T]], count: Int) -> [T] {
        var out: [T] = []
        var index = 0
        while out.count < count {
            var took = false
            for p in pools where index < p.count && out.count < count { out.append(p[index]); took = true }
            if !took { break }
            index += 1
        }
        return out
    }
}
