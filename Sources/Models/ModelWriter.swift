import Support
import Foundation
import Tensor
import Tokenizers

/// Saving a model in Hugging Face layout: config.json (with `architectures`), weights in
/// model.safetensors, tokenizer.json and tokenizer_config.json, generation_config.json.
/// transformers' `from_pretrained` loads the folder.
public enum ModelWriter {
    public static func architecture(_ c: LlamaConfig) -> String { c.architecture.huggingFaceClass(modelType: c.modelType) }

    /// config.json as transformers writes it: our keys plus architectures and dtype.
    public static func configJSON(_ c: LlamaConfig, dtype: SafeTensorsFile.DType, tokenizer: Tokenizer?) throws -> Data {
        var obj = try JSONSerialization.jsonObject(with: JSONEncoder().encode(c)) as! [String: Any]
        obj["architectures"] = [architecture(c)]
        obj["torch_dtype"] = dtype == .bf16 ? "bfloat16" : dtype == .f16 ? "float16" : "float32"
        if let t = tokenizer {
            if let b = t.bosTokenId { obj["bos_token_id"] = b }
            if let e = t.eosTokenId { obj["eos_token_id"] = e }
            // Written also when there is none: some architectures' defaults (Phi-3's 32000)
            // would otherwise name a token outside a smaller vocabulary.
            obj["pad_token_id"] = t.padTokenId.map { $0 as Any } ?? NSNull()
        }
        for (key, value) in c.architecture.extraConfigKeys(c) { obj[key] = value }
        let text = String(decoding: try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys, .prettyPrinted]), as: UTF8.self)
        return Data(Self.floatLiterals(text, keys: floatKeys).utf8)
    }

    /// Keys transformers' configs type as float and check strictly (Gemma 2's soft caps):
    /// a whole number must be written "30.0", which JSONSerialization writes as "30".
    static let floatKeys = ["attn_logit_softcapping", "final_logit_softcapping", "rope_theta"]

    static func floatLiterals(_ json: String, keys: [String]) -> String {
        var out = json
        for key in keys {
            out = out.replacingOccurrences(of: #"("\#(key)" ?: ?)(-?[0-9]+)(?=[,\n}])"#, with: "$1$2.0", options: .regularExpression)
        }
        return out
    }

    /// Writes the model to `directory` (created if needed). Every file is written atomically.
    public static func save(config: LlamaConfig, weights: [String: Tensor], tokenizer: Tokenizer?, to directory: URL,
                            dtype: SafeTensorsFile.DType = .f32) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var tensors: [String: Tensor] = [:]
        for (name, _) in LlamaModel.expectedShapes(config) {
            guard let t = weights[name] else { throw ModelError.missingWeight(name) }
            tensors[name] = t
        }
        try SafeTensorsFile.write(tensors, to: directory.appendingPathComponent("model.safetensors").path, dtype: dtype, metadata: ["format": "pt"])
        try AtomicFile.write(try configJSON(config, dtype: dtype, tokenizer: tokenizer), to: directory.appendingPathComponent("config.json").path)
        if let tokenizer {
            try tokenizer.save(to: directory)
            var gen: [String: Any] = [:]
            if let b = tokenizer.bosTokenId { gen["bos_token_id"] = b }
            if let e = tokenizer.eosTokenId { gen["eos_token_id"] = e }
            try AtomicFile.write(try JSONSerialization.data(withJSONObject: gen, options: [.sortedKeys]), to: directory.appendingPathComponent("generation_config.json").path)
        }
    }

    public static func save(_ model: LlamaModel, tokenizer: Tokenizer?, to directory: URL, dtype: SafeTensorsFile.DType = .f32) throws {
        try save(config: model.config, weights: model.parameters.mapValues(\.value), tokenizer: tokenizer, to: directory, dtype: dtype)
    }
}
