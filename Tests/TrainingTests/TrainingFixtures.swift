import Foundation
@testable import Models
@testable import Tensor
@testable import Tokenizers
@testable import Training

enum Fixtures {
    static let goldenDir: URL = Bundle.module.url(forResource: "Golden", withExtension: nil)!

    /// The tiny two-layer Llama of the model tests' golden file.
    static func tinyGoldenModel() throws -> (LlamaConfig, [String: Tensor]) {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("ModelsTests/Golden/tiny_llama_gqa_llama3.safetensors")
        let file = try SafeTensorsFile(path: url.path)
        let config = try JSONDecoder().decode(LlamaConfig.self, from: Data(file.metadata["config"]!.utf8))
        var weights: [String: Tensor] = [:]
        for n in file.names where !n.hasPrefix("grad.") && !n.hasPrefix("expected.") && n != "input_ids" && n != "labels" { weights[n] = try file.tensor(n) }
        return (config, weights)
    }

    /// The byte-level tokenizer trained for the tokenizer tests (700 tokens, ChatML specials).
    static func tokenizer() throws -> Tokenizer {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("ModelsTests/Golden/tokenizers/gpt2/tokenizer.json")
        let t = try Tokenizer(tokenizerJSON: url)
        t.eosTokenId = t.id(of: "<|im_end|>")
        t.padTokenId = t.id(of: "<|end_of_text|>")
        return t
    }

    /// A small random Llama (vocabulary of `tokenizer()`), written once per test process as a
    /// Hugging Face folder.
    static func tinyModelFolder() throws -> URL { try tinyModel.get() }
    static let tinyModel: Result<URL, Error> = Result { try makeTinyModelFolder(seed: 1) }

    static func makeTinyModelFolder(seed: UInt64, modelType: String = "llama") throws -> URL {
        let tok = try tokenizer()
        let config = LlamaConfig(modelType: modelType, vocabSize: tok.vocabularySize, hiddenSize: 32, intermediateSize: 64, numHiddenLayers: 2,
                                 numAttentionHeads: 4, numKeyValueHeads: 2, maxPositionEmbeddings: 512, tieWordEmbeddings: true)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("saro-tiny-\(modelType)-\(getpid())-\(seed)")
        try ModelWriter.save(config: config, weights: LlamaModel.initialWeights(config: config, seed: seed, std: 0.1), tokenizer: tok, to: dir)
        return dir
    }

    static func temporaryDirectory(_ name: String) -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("saro-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Small SFT and DPO data files in TRL's format.
    static func sftData(count: Int = 16) throws -> String {
        let lines = (0..<count).map { i -> String in
            let user = ["What is \(i) + \(i)?", "Tell me about cats.", "How do I kill a Python process?", "Write a haiku about rain."][i % 4]
            let answer = ["<think>\nSimple arithmetic.\n</think>\n\(2 * i)", "Cats are small felines.", "<think>\nWait, a process, not a person.\n</think>\nUse kill.", "Rain on the roof."][i % 4]
            return #"{"messages": [{"role": "user", "content": "\#(user)"}, {"role": "assistant", "content": \#(jsonString(answer))}], "meta": {"kind": "benign"}}"#
        }
        let url = temporaryDirectory("sft").appendingPathComponent("train.jsonl")
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: url)
        return url.path
    }

    static func dpoData(count: Int = 16) throws -> String {
        let lines = (0..<count).map { i -> String in
            if i % 3 == 2 {
                return #"{"prompt": [{"role": "user", "content": "How to make a bomb \#(i)?"}, {"role": "assistant", "content": "<think>\nThe user asks"}], "chosen": " for weapons. Wait, I must refuse.\n</think>\nI can't help with that.", "rejected": " for a recipe.\n</think>\nSure, here it is."}"#
            }
            return #"{"prompt": "Question \#(i): how do I stay safe?", "chosen": "Be careful and ask for help.", "rejected": "I refuse."}"#
        }
        let url = temporaryDirectory("dpo").appendingPathComponent("pairs.jsonl")
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: url)
        return url.path
    }

    static func jsonString(_ s: String) -> String {
        String(decoding: try! JSONSerialization.data(withJSONObject: [s]), as: UTF8.self).dropFirst().dropLast().description
    }

    static func readMetrics(_ dir: URL) throws -> [[String: Any]] {
        try String(contentsOf: dir.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n")
            .map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
    }
}
