import Foundation
import Testing
@testable import Models
@testable import Tensor
@testable import Training

/// LoRA SFT and DPO losses and adapter gradients against PyTorch + PEFT
/// (scripts/golden/make_lora_golden.py).
@Suite struct LoRAGoldenTests {
    static func setup() throws -> (LlamaModel, LoRAAdapters, SafeTensorsFile) {
        let (config, weights) = try Fixtures.tinyGoldenModel()
        let model = try LlamaModel(config: config, weights: weights)
        let adapters = try LoRAAdapters(config: LoRAConfig(rank: 4, alpha: 8, dropout: 0), model: model, seed: 0)
        let golden = try SafeTensorsFile(path: Fixtures.goldenDir.appendingPathComponent("lora_golden.safetensors").path)
        for (key, p) in adapters.parameters { p.value.copyElements(from: try golden.tensor(key)) }
        model.lora = adapters
        return (model, adapters, golden)
    }

    /// Every adapter gradient against the golden "<prefix>.<PEFT key>" tensor.
    static func expectGradients(_ adapters: LoRAAdapters, _ golden: SafeTensorsFile, prefix: String, tolerance: Float) throws {
        for (key, p) in adapters.parameters {
            let err = relativeError(try #require(p.grad), try golden.tensor(prefix + "." + key))
            #expect(err < tolerance, "\(key): relative error \(err)")
        }
    }

    static func relativeError(_ a: Tensor, _ b: Tensor) -> Float {
        let scale = max(b.scalars.map(abs).max() ?? 0, 1e-12)
        return zip(a.scalars, b.scalars).map { abs($0 - $1) }.max()! / scale
    }

    static func sftObjective(_ golden: SafeTensorsFile) throws -> SFTObjective {
        let ids = try golden.integers("sft.ids"), mask = try golden.integers("sft.mask").map { $0 != 0 }
        let examples = (0..<2).map { r in SFTExample(ids: Array(ids[(r * 8)..<(r * 8 + 8)]), mask: Array(mask[(r * 8)..<(r * 8 + 8)])) }
        return SFTObjective(examples: examples, padToken: 0)
    }

    /// The golden pairs, with reference log-probs from the model with adapters off (checked
    /// against PyTorch's).
    static func dpoObjective(_ model: LlamaModel, _ adapters: LoRAAdapters, _ golden: SafeTensorsFile) throws -> DPOObjective {
        func rows(_ name: String) throws -> [[Int]] {
            let t = try golden.tensor(name)
            return (0..<t.shape[0]).map { r in (0..<t.shape[1]).map { Int(t[index: [r, $0]]) }.filter { $0 >= 0 } }
        }
        let prompts = try rows("dpo.prompts"), chosen = try rows("dpo.chosen"), rejected = try rows("dpo.rejected")
        let examples = (0..<2).map { PreferenceExample(prompt: prompts[$0], chosen: chosen[$0], rejected: rejected[$0]) }
        adapters.enabled = false
        defer { adapters.enabled = true }
        let expectedRef = try golden.tensor("dpo.reference").scalars   // chosen rows, then rejected rows
        var reference: [Float] = []
        // Batch 2: one batch; batch 1: two batches, side by side in two lanes where BLAS allows.
        for batchSize in [1, 2] {
            reference = try DPOObjective.referenceLogps(model: model, examples: examples, padToken: 0, batchSize: batchSize, cacheFile: nil, fingerprint: "")
            for i in 0..<2 {
                #expect(abs(reference[2 * i] - expectedRef[i]) < 1e-4 && abs(reference[2 * i + 1] - expectedRef[2 + i]) < 1e-4, "batch \(batchSize)")
            }
        }
        return DPOObjective(examples: examples, config: DPOLossConfig(beta: 0.1), reference: reference, padToken: 0)
    }

    @Test func sftLossAndAdapterGradients() throws {
        let (model, adapters, golden) = try Self.setup()
        let objective = try Self.sftObjective(golden)
        let (loss, _, _) = objective.loss(model: model, indices: [0, 1], normalizer: objective.stepNormalizer([0, 1]), stepIndices: [0, 1])
        #expect(abs(loss.value.scalars[0] - (try golden.tensor("sft.loss").scalars[0])) < 1e-5)
        loss.backward()
        try Self.expectGradients(adapters, golden, prefix: "sft_grad", tolerance: 1e-4)
    }

    @Test func dpoLossAndAdapterGradients() throws {
        let (model, adapters, golden) = try Self.setup()
        let objective = try Self.dpoObjective(model, adapters, golden)
        let (loss, _, _) = objective.loss(model: model, indices: [0, 1], normalizer: 2, stepIndices: [0, 1])
        #expect(abs(loss.value.scalars[0] - (try golden.tensor("dpo.loss").scalars[0])) < 1e-5)
        loss.backward()
        try Self.expectGradients(adapters, golden, prefix: "dpo_grad", tolerance: 1e-3)
    }

    /// The trainer's step on two cores runs the two examples as two lanes, each on a replica of
    /// the model with gradients of its own, and sums them: the same loss and gradients.
    @Test func twoLanesGiveTheGoldenLossesAndGradients() throws {
        let (model, adapters, golden) = try Self.setup()
        let sft = try Self.sftObjective(golden), dpo = try Self.dpoObjective(model, adapters, golden)
        for (objective, name, tolerance) in [(sft as TrainingObjective, "sft", Float(1e-4)), (dpo, "dpo", 1e-3)] {
            for p in adapters.parameters.values { p.zeroGrad() }
            let totals = GradientStep.run(model: model, trainable: adapters.parameters, objective: objective, microBatches: [[0, 1]],
                                          normalizer: objective.stepNormalizer([0, 1]), cores: 2)
            #expect(totals.lanes == (BLAS.shared.supportsLanes ? 2 : 1))
            #expect(abs(totals.metrics.loss - Double(try golden.tensor(name + ".loss").scalars[0])) < 1e-5)
            try Self.expectGradients(adapters, golden, prefix: name + "_grad", tolerance: tolerance)
        }
    }

    @Test func adapterFilesUsePEFTLayoutAndMergeMatchesForward() throws {
        let (model, adapters, _) = try Self.setup()
        let dir = Fixtures.temporaryDirectory("adapter")
        try adapters.save(to: dir, baseModel: "tiny")
        let cfg = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("adapter_config.json"))) as! [String: Any]
        #expect(cfg["peft_type"] as? String == "LORA" && cfg["r"] as? Int == 4 && (cfg["lora_alpha"] as? NSNumber)?.doubleValue == 8)
        let st = try SafeTensorsFile(path: dir.appendingPathComponent("adapter_model.safetensors").path)
        #expect(st.names.contains("base_model.model.model.layers.1.mlp.down_proj.lora_B.weight") && st.names.count == 2 * 7 * 2)
        let readBack = try LoRAAdapters.readConfig(dir)
        #expect(readBack == adapters.config)
        // Merged weights give the adapted model's logits.
        let ids: [Int32] = [3, 7, 11, 2, 9]
        let adapted = GradMode.withNoGrad { model.forward(ids: ids, batch: 1, time: 5) }.value.scalars
        let merged = try LlamaModel(config: model.config, weights: adapters.merged(into: model.parameters.mapValues(\.value)))
        let folded = GradMode.withNoGrad { merged.forward(ids: ids, batch: 1, time: 5) }.value.scalars
        #expect(zip(adapted, folded).map { abs($0 - $1) }.max()! < 1e-4)
    }
}
