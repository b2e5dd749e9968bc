import Foundation
import Testing
@testable import Models
@testable import Tensor
@testable import Tokenizers

/// Saving in Hugging Face layout and loading back gives the same model and tokenizer.
@Suite struct ModelWriterTests {
    @Test func defaultModelRoundTripsThroughHuggingFaceLayout() throws {
        let gguf = try PretrainedModel.load(url: DefaultModel.path)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("saro-export-\(getpid())")
        try ModelWriter.save(config: gguf.config, weights: gguf.weights, tokenizer: gguf.tokenizer, to: dir)
        for f in ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "generation_config.json"] {
            #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent(f).path), "\(f) written")
        }
        let hf = try PretrainedModel.load(url: dir)
        #expect(hf.config.numHiddenLayers == gguf.config.numHiddenLayers && hf.config.tieWordEmbeddings && hf.config.ropeTheta == gguf.config.ropeTheta)
        #expect(hf.quantized.isEmpty)
        for name in ["model.layers.0.self_attn.q_proj.weight", "model.norm.weight", "model.embed_tokens.weight"] {
            #expect(hf.weights[name]!.scalars == gguf.weights[name]!.scalars)
        }
        #expect(hf.tokenizer.chatTemplate == gguf.tokenizer.chatTemplate && hf.tokenizer.eosTokenId == 2)
        let golden = try JSONDecoder().decode(SmolLM2GoldenTests.TokenizerGolden.self, from: Data(contentsOf: DefaultModel.goldenURL("smollm2_tokenizer", "json")))
        for c in golden.cases.prefix(300) { #expect(hf.tokenizer.encode(c.text) == c.ids) }
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("config.json"))) as! [String: Any]
        #expect(config["architectures"] as? [String] == ["LlamaForCausalLM"])
        try? FileManager.default.removeItem(at: dir)
    }

    @Test func bf16ExportRoundsWeights() throws {
        let file = try TinyLlamaGoldenTests.golden("tied_bias")
        let config = try JSONDecoder().decode(LlamaConfig.self, from: Data(file.metadata["config"]!.utf8))
        var weights: [String: Tensor] = [:]
        for n in file.names where !n.hasPrefix("grad.") && !n.hasPrefix("expected.") && n != "input_ids" && n != "labels" { weights[n] = try file.tensor(n) }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("saro-export-bf16-\(getpid())")
        try ModelWriter.save(config: config, weights: weights, tokenizer: nil, to: dir, dtype: .bf16)
        let st = try SafeTensorsFile(path: dir.appendingPathComponent("model.safetensors").path)
        #expect(st.entries["model.layers.0.self_attn.o_proj.bias"]?.dtype == .bf16)
        let back = try st.tensor("model.layers.1.mlp.up_proj.weight").scalars, orig = weights["model.layers.1.mlp.up_proj.weight"]!.scalars
        for (a, b) in zip(back, orig) { #expect(abs(a - b) <= abs(b) / 128) }
        let reread = try JSONDecoder().decode(LlamaConfig.self, from: Data(contentsOf: dir.appendingPathComponent("config.json")))
        #expect(reread == config)
        try? FileManager.default.removeItem(at: dir)
    }

    @Test func shardedCheckpointLoadsAndMissingShardTensorIsNamed() throws {
        let file = try TinyLlamaGoldenTests.golden("qwen2")
        let config = try JSONDecoder().decode(LlamaConfig.self, from: Data(file.metadata["config"]!.utf8))
        let names = LlamaModel.expectedShapes(config).map(\.0)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("saro-sharded-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var map: [String: String] = [:]
        var shards: [[String: Tensor]] = [[:], [:]]
        for (i, n) in names.enumerated() {
            shards[i % 2][n] = try file.tensor(n)
            map[n] = "model-0000\(i % 2 + 1)-of-00002.safetensors"
        }
        for (i, s) in shards.enumerated() { try SafeTensorsFile.write(s, to: dir.appendingPathComponent("model-0000\(i + 1)-of-00002.safetensors").path, dtype: .f16) }
        try JSONSerialization.data(withJSONObject: ["metadata": [:], "weight_map": map]).write(to: dir.appendingPathComponent("model.safetensors.index.json"))
        let loaded = try SafeTensorsCheckpoint.load(directory: dir, names: names)
        #expect(loaded.count == names.count)
        let w = try file.tensor("model.layers.1.self_attn.q_proj.bias").scalars
        #expect(zip(loaded["model.layers.1.self_attn.q_proj.bias"]!.scalars, w).allSatisfy { abs($0 - $1) <= abs($1) / 1000 })
        map.removeValue(forKey: "model.norm.weight")
        try JSONSerialization.data(withJSONObject: ["weight_map": map]).write(to: dir.appendingPathComponent("model.safetensors.index.json"))
        do { _ = try SafeTensorsCheckpoint.load(directory: dir, names: names); Issue.record("loaded without model.norm.weight") } catch {
            #expect("\(error)".contains("model.norm.weight"))
        }
        try? FileManager.default.removeItem(at: dir)
    }
}
