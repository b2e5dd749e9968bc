import Foundation
import Inference
import Judges

extension EmbeddingAnalysis {
    /// Prompts of the three kinds: harmful requests (JailbreakBench behaviors), the same kind
    /// of requests in jailbreak wrappers (the jailbreak evaluation set) and benign prompts that
    /// look risky (XSTest's safe prompts), `perKind` of each, chosen deterministically.
    public static func prompts(_ sources: BenchmarkSources, perKind: Int) throws -> [(prompt: String, kind: String)] {
        let harmful = Summary.limited(try sources.examples("jailbreakbench"), perKind, seed: 11).map { ($0.prompt, "harmful") }
        let jailbreak = Summary.limited(try sources.jailbreakExamples(perFamily: 2), perKind, seed: 12).map { ($0.prompt, "jailbreak") }
        let benign = Summary.limited(try sources.examples("xstest-safe"), perKind, seed: 13).map { ($0.prompt, "benign") }
        return harmful + jailbreak + benign
    }

    /// Runs the analysis for one model at a layer (default: two thirds of the depth). It needs
    /// hidden states, so it runs on an engine that shows them (saro's own).
    public static func run(engine: HiddenStateEngine, label: String, sources: BenchmarkSources, perKind: Int = 40, layer: Int? = nil) throws -> EmbeddingAnalysis {
        let items = try prompts(sources, perKind: perKind)
        let l = try layer ?? max(1, engine.layerCount() * 2 / 3)
        let vectors = try engine.pooledHiddenStates(items.map(\.prompt), layers: [l]).map { $0[l]!.mean }
        return analyze(label: label, layer: l, vectors: vectors, kinds: items.map(\.kind))
    }
}
