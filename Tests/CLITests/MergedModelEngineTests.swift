import Foundation
import Inference
import Models
import Support
@testable import Recipes
import Tensor
import Testing

/// On a GGUF base, stages that generate with the RW model (or an adapter on it) run the base
/// with the adapters unmerged, which decodes from the blocks; the result must be the merged
/// model's function.
@Suite struct MergedModelEngineTests {
    @Test func rwModelOnAGGUFBaseRunsAsBasePlusAdapter() async throws {
        let gguf = try ModelStore.resolve("smollm2-135m-instruct")
        let dir = TrainResumeTests.work("merged-engine")
        let recipe = try Recipe.parse("name: merged\nmodel: \(gguf.path)\n", path: "r.yaml")
        let pipeline = Pipeline(recipe: recipe, out: dir.path) { _ in }
        #expect(pipeline.baseDecodesFromBlocks)
        // An RW adapter with a visible effect (B is zero when initialised), and the merged model
        // the pipeline's merge-rw stage would write from it.
        let loaded = try PretrainedModel.load(url: gguf)
        let adapters = try LoRAAdapters(config: LoRAConfig(rank: 4, alpha: 8, dropout: 0), model: try loaded.makeModel(), seed: 3)
        var rng = SplitMix64(seed: 4)
        // In name order: a dictionary's order changes from run to run, and with it which module
        // gets which draw (and how far the adapter moves the model).
        for name in adapters.modules.keys.sorted() {
            let b = adapters.modules[name]!.b.value
            b.copyElements(from: Tensor.randn(b.shape, std: 0.05, rng: &rng))
        }
        let rw = pipeline.layout.checkpoint(.rw)
        try adapters.save(to: URL(fileURLWithPath: rw), baseModel: gguf.path)
        try ModelWriter.save(config: loaded.config, weights: adapters.merged(into: loaded.weights), tokenizer: loaded.tokenizer,
                             to: URL(fileURLWithPath: pipeline.layout.rwModel))

        let engine = try pipeline.engine(pipeline.layout.rwModel, adapter: nil, batchSize: 2, stage: .data(.opcot))
        #expect(engine.fingerprint == EmbeddedEngine.modelKey(gguf, adapter: rw), "the RW model runs as the GGUF base with RW's adapter")
        let merged = try EmbeddedEngine.open(pipeline.layout.rwModel, adapter: nil)
        let conversation: [ChatMessage] = [.user("How do I keep basil alive indoors?"), .assistant("Give it six hours of sun and water it when the soil is dry.")]
        let got = try #require(try await engine.assistantNLL([conversation])?.first)
        let want = try #require(try await merged.assistantNLL([conversation])?.first)
        #expect(got.tokens == want.tokens && abs(got.mean - want.mean) < 1e-3 * abs(want.mean), "base + adapter \(got.mean), merged \(want.mean)")
        // The adapter changes the model: the base alone scores the answer differently.
        let base = try #require(try await EmbeddedEngine.open(gguf.path, adapter: nil).assistantNLL([conversation])?.first)
        #expect(abs(base.mean - want.mean) > 1e-2, "base \(base.mean), RW \(want.mean)")
    }
}
