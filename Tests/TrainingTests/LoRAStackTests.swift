import Foundation
import Testing
@testable import Models
@testable import Tensor

/// Two adapters stacked into one (what a server that applies one adapter per request needs for
/// SaRO, whose adapter was trained on the RW model) give the logits of the second adapter on
/// the model with the first merged in: the same function computed the way saro trains it.
@Suite struct LoRAStackTests {
    static func randomAdapter(_ model: LlamaModel, rank: Int, alpha: Double, targets: [String], seed: UInt64) throws -> LoRAAdapters {
        let adapters = try LoRAAdapters(config: LoRAConfig(rank: rank, alpha: alpha, dropout: 0, targetModules: targets), model: model, seed: seed)
        var rng = SplitMix64(seed: seed + 100)
        for (_, p) in adapters.parameters.sorted(by: { $0.key < $1.key }) {
            p.value.copyElements(from: Tensor.uniform(p.value.shape, low: -0.3, high: 0.3, rng: &rng))
        }
        return adapters
    }

    static func logits(_ model: LlamaModel, _ ids: [Int32]) -> [Float] {
        GradMode.withNoGrad { model.forward(ids: ids, batch: 1, time: ids.count) }.value.scalars
    }

    @Test func stackedAdapterEqualsTheSecondOnTheFirstMerged() throws {
        let (config, weights) = try Fixtures.tinyGoldenModel()
        let base = try LlamaModel(config: config, weights: weights)
        // Different ranks, scales and modules: RW on every projection, the second on attention only.
        let first = try Self.randomAdapter(base, rank: 4, alpha: 8, targets: LoRAConfig.allLinear, seed: 1)
        let second = try Self.randomAdapter(base, rank: 2, alpha: 16, targets: ["q_proj", "k_proj", "v_proj", "o_proj"], seed: 2)
        let ids: [Int32] = [1, 5, 9, 2, 7, 3, 11, 4]

        let merged = try LlamaModel(config: config, weights: first.merged(into: weights))
        merged.lora = second
        let expected = Self.logits(merged, ids)

        // Through the PEFT files, as the pipeline writes and a server reads them.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("saro-lora-stack-\(getpid())")
        try? FileManager.default.removeItem(at: dir)
        try first.save(to: dir.appendingPathComponent("first"), baseModel: "tiny")
        try second.save(to: dir.appendingPathComponent("second"), baseModel: "tiny")
        let stacked = try LoRAAdapters.stacked(try LoRAAdapters.read(from: dir.appendingPathComponent("first")),
                                               try LoRAAdapters.read(from: dir.appendingPathComponent("second")))
        #expect(stacked.config.rank == 6 && stacked.config.scale == 1 && Set(stacked.config.targetModules) == Set(LoRAConfig.allLinear))
        try stacked.save(to: dir.appendingPathComponent("stacked"), baseModel: "tiny")
        let onBase = try LlamaModel(config: config, weights: weights)
        onBase.lora = try LoRAAdapters(config: try LoRAAdapters.readConfig(dir.appendingPathComponent("stacked")), model: onBase, seed: 0)
        try onBase.lora!.load(from: dir.appendingPathComponent("stacked"))
        let got = Self.logits(onBase, ids)

        let scale = expected.map(abs).max()!
        let err = zip(got, expected).map { abs($0 - $1) }.max()!
        #expect(err <= 1e-5 * max(1, scale), "max error \(err) at logit scale \(scale)")
        // And it is not the first adapter alone (the second one matters).
        let firstOnly = try LlamaModel(config: config, weights: weights)
        firstOnly.lora = first
        #expect(zip(Self.logits(firstOnly, ids), expected).map { abs($0 - $1) }.max()! > 100 * err)
        try? FileManager.default.removeItem(at: dir)
    }
}
