import Foundation
import Judges
import SaRO

extension EmbeddingAnalysis {
    /// Prompts of the three kinds: harmful requests (JailbreakBench behaviors), the same kind
    /// of requests in jailbreak wrappers (the jailbreak evaluation set) and benign prompts that
    /// look risky (XSTest's safe prompts), `perKind` of each, chosen deterministically.
    public static func prompts(_ context: BenchmarkContext, perKind: Int) throws -> [(prompt: String, kind: String)] {
        let harmful = Summary.limited(try context.sources.load("jailbreakbench"), perKind, seed: 11).map { ($0.text, "harmful") }
        let jailbreak = Summary.limited(try JailbreakBenchmark(perFamily: 2).examples(context), perKind, seed: 12).map { ($0.prompt, "jailbreak") }
        let benign = Summary.limited(try context.sources.load("xstest-safe"), perKind, seed: 13).map { ($0.text, "benign") }
        return harmful + jailbreak + benign
    }

    /// Runs the analysis for one model at a layer (default: two thirds of the depth).
    public static func run(model: LocalModel, label: String, context: BenchmarkContext, perKind: Int = 40, layer: Int? = nil) throws -> EmbeddingAnalysis {
        let items = try prompts(context, perKind: perKind)
        let l = try layer ?? max(1, model.layerCount() * 2 / 3)
        let vectors = try model.meanHiddenState(items.map(\.prompt), layer: l)
        return analyze(label: label, layer: l, vectors: vectors, kinds: items.map(\.kind))
    }
}
