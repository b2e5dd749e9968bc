import Foundation
import Testing
@testable import Models
@testable import Tensor

/// Tiny two-layer Llama, Qwen2, Phi-3 and Gemma 2 models: logits, loss and every parameter gradient against PyTorch +
/// transformers (float64). The golden files and the script that made them:
/// scripts/golden/make_tiny_llama_golden.py.
@Suite struct TinyLlamaGoldenTests {
    static func golden(_ name: String) throws -> SafeTensorsFile {
        let url = try #require(Bundle.module.url(forResource: "Golden/tiny_llama_\(name)", withExtension: "safetensors"))
        return try SafeTensorsFile(path: url.path)
    }

    /// max |a - b| / max |b|: the error relative to the tensor's scale.
    static func relativeError(_ a: Tensor, _ b: Tensor) -> Float {
        let x = a.scalars, y = b.scalars
        precondition(x.count == y.count)
        let scale = max(y.map(abs).max() ?? 0, 1e-12)
        return zip(x, y).map { abs($0 - $1) }.max()! / scale
    }

    @Test(arguments: ["gqa_llama3", "tied_bias", "qwen2", "phi3", "gemma2"])
    func lossLogitsAndGradientsMatchTransformers(caseName: String) throws {
        let file = try Self.golden(caseName)
        let config = try JSONDecoder().decode(LlamaConfig.self, from: Data(file.metadata["config"]!.utf8))
        let weights = Dictionary(uniqueKeysWithValues: try file.names.filter { !$0.hasPrefix("grad.") && !$0.hasPrefix("expected.") && $0 != "input_ids" && $0 != "labels" }
            .map { ($0, try file.tensor($0)) })
        let model = try LlamaModel(config: config, weights: weights, trainable: true)
        #expect(model.parameters.count == weights.count)

        let idsTensor = try file.tensor("input_ids")
        let batch = idsTensor.shape[0], time = idsTensor.shape[1]
        let ids = idsTensor.scalars.map { Int32($0) }
        let labels = try file.integers("labels").map { Int32($0) }

        #expect(Self.relativeError(Tensor(config.ropeInverseFrequencies, shape: [config.headDim / 2]), try file.tensor("expected.inv_freq")) < 1e-6)

        let logits = model.forward(ids: ids, batch: batch, time: time)
        #expect(Self.relativeError(logits.value, try file.tensor("expected.logits")) < 2e-5)
        // transformers' hidden_states[1] of the first sequence (what embedding analyses read).
        let hidden = model.hiddenStates(ids: Array(ids[0..<time]), layer: 1)
        #expect(Self.relativeError(hidden, try file.tensor("expected.hidden_1")) < 2e-5)

        let loss = Ops.crossEntropy(logits, targets: LlamaModel.shiftedTargets(labels: labels, batch: batch, time: time))
        let expectedLoss = try file.tensor("expected.loss").scalars[0]
        #expect(abs(loss.value.scalars[0] - expectedLoss) < 1e-5 * expectedLoss)

        loss.backward()
        for (name, p) in model.parameters {
            let expected = try file.tensor("grad." + name)
            let got = try #require(p.grad, "no gradient for \(name)")
            let err = Self.relativeError(got, expected)
            #expect(err < 1e-4, "gradient of \(name): relative error \(err)")
        }
    }

    @Test func wrongShapeAndMissingWeightAreNamed() throws {
        let file = try Self.golden("tied_bias")
        let config = try JSONDecoder().decode(LlamaConfig.self, from: Data(file.metadata["config"]!.utf8))
        var weights: [String: Tensor] = [:]
        for name in file.names where !name.hasPrefix("grad.") && !name.hasPrefix("expected.") { weights[name] = try file.tensor(name) }
        weights["model.layers.1.mlp.up_proj.weight"] = Tensor(zeros: [3, 3])
        #expect(throws: Error.self) { try LlamaModel(config: config, weights: weights, trainable: false) }
        do { _ = try LlamaModel(config: config, weights: weights) } catch {
            #expect("\(error)".contains("model.layers.1.mlp.up_proj.weight") && "\(error)".contains("[3, 3]"))
        }
        weights["model.layers.1.mlp.up_proj.weight"] = nil
        do { _ = try LlamaModel(config: config, weights: weights) } catch {
            #expect("\(error)" == "missing weight 'model.layers.1.mlp.up_proj.weight'")
        }
    }
}

@Suite struct LlamaConfigTests {
    @Test func decodesSmolLM2StyleConfig() throws {
        let json = """
            {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 49152, "hidden_size": 576,
             "intermediate_size": 1536, "num_hidden_layers": 30, "num_attention_heads": 9, "num_key_value_heads": 3,
             "rms_norm_eps": 1e-05, "rope_theta": 100000, "max_position_embeddings": 8192, "tie_word_embeddings": true,
             "hidden_act": "silu", "torch_dtype": "bfloat16"}
            """
        let c = try JSONDecoder().decode(LlamaConfig.self, from: Data(json.utf8))
        #expect(c.headDim == 64 && c.numKeyValueHeads == 3 && c.tieWordEmbeddings && !c.attentionBias && c.ropeTheta == 100000)
    }

    @Test func qwen2HasAttentionBiasAndLlama3ScalingIsRead() throws {
        let qwen = try JSONDecoder().decode(LlamaConfig.self, from: Data("""
            {"model_type": "qwen2", "vocab_size": 10, "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2}
            """.utf8))
        // Qwen2's q, k and v projections have biases without attention_bias; its o has none.
        let names = LlamaModel.expectedShapes(qwen).map(\.0)
        #expect(names.contains("model.layers.0.self_attn.q_proj.bias") && names.contains("model.layers.0.self_attn.v_proj.bias"))
        #expect(!names.contains("model.layers.0.self_attn.o_proj.bias"))
        let llama3 = try JSONDecoder().decode(LlamaConfig.self, from: Data("""
            {"model_type": "llama", "vocab_size": 10, "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
             "rope_theta": 500000.0, "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
             "original_max_position_embeddings": 8192, "rope_type": "llama3"}}
            """.utf8))
        #expect(llama3.ropeScaling?.ropeType == "llama3" && llama3.ropeScaling?.factor == 8)
    }

    @Test func unsupportedModelTypeAndRopeScalingAreRefused() {
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(LlamaConfig.self, from: Data("""
                {"model_type": "gpt2", "vocab_size": 10, "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2}
                """.utf8))
        }
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(LlamaConfig.self, from: Data("""
                {"model_type": "llama", "vocab_size": 10, "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
                 "rope_scaling": {"type": "yarn", "factor": 4.0}}
                """.utf8))
        }
        // Phi-3.5-mini's partial rotary embeddings are not implemented: refused, not ignored.
        do {
            _ = try JSONDecoder().decode(LlamaConfig.self, from: Data("""
                {"model_type": "phi3", "vocab_size": 10, "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
                 "partial_rotary_factor": 0.5}
                """.utf8))
            Issue.record("partial_rotary_factor 0.5 was accepted")
        } catch { #expect("\(error)".contains("partial_rotary_factor 0.5")) }
    }

    /// Phi-3's LoRA targets: its fused modules, also when a recipe names Llama's parts of them
    /// or all-linear; a module it does not have is an error naming the ones it has.
    @Test func loraTargetsResolveToEachArchitecturesProjections() throws {
        let phi3 = try #require(Architectures.named("phi3")), llama = try #require(Architectures.named("llama"))
        #expect(try LoRAConfig(targetModules: LoRAConfig.allLinear).resolvedTargets(phi3) == ["qkv_proj", "o_proj", "gate_up_proj", "down_proj"])
        #expect(try LoRAConfig(targetModules: ["q_proj", "v_proj"]).resolvedTargets(phi3) == ["qkv_proj"])
        #expect(try LoRAConfig(targetModules: ["all-linear"]).resolvedTargets(llama) == LoRAConfig.allLinear)
        #expect(try LoRAConfig(targetModules: ["q_proj", "v_proj"]).resolvedTargets(llama) == ["q_proj", "v_proj"])
        do { _ = try LoRAConfig(targetModules: ["qkv_proj"]).resolvedTargets(llama); Issue.record("qkv_proj accepted for Llama") } catch {
            #expect("\(error)".contains("'qkv_proj'") && "\(error)".contains("gate_proj"))
        }
    }
}
