import Tensor

/// Reading a Llama-family model (architectures llama, mistral, qwen2) out of a GGUF file into
/// Hugging Face's names and layout, as transformers' GGUF loader does.
extension GGUFFile {
    /// The model configuration from `{arch}.*` metadata.
    public func llamaConfig() throws -> LlamaConfig {
        let arch = try require("general.architecture").string ?? ""
        let modelType: String
        switch arch {
        case "llama": modelType = "llama"
        case "mistral": modelType = "mistral"
        case "qwen2": modelType = "qwen2"
        default: throw GGUFError.corrupt(file: path, reason: "architecture '\(arch)' is not supported (llama, mistral, qwen2)")
        }
        func int(_ key: String) throws -> Int {
            guard let v = try require("\(arch).\(key)").int else { throw GGUFError.corrupt(file: path, reason: "\(arch).\(key) is not an integer") }
            return v
        }
        let heads = try int("attention.head_count")
        let hidden = try int("embedding_length")
        let vocab = metadata["\(arch).vocab_size"]?.int ?? metadata["tokenizer.ggml.tokens"]?.array?.count
            ?? tensors["token_embd.weight"]?.shape.first ?? 0
        let config = LlamaConfig(
            modelType: modelType, vocabSize: vocab, hiddenSize: hidden, intermediateSize: try int("feed_forward_length"),
            numHiddenLayers: try int("block_count"), numAttentionHeads: heads,
            numKeyValueHeads: metadata["\(arch).attention.head_count_kv"]?.int ?? heads,
            headDim: metadata["\(arch).attention.key_length"]?.int ?? (heads > 0 ? hidden / heads : 0),
            rmsNormEps: metadata["\(arch).attention.layer_norm_rms_epsilon"]?.double ?? 1e-5,
            ropeTheta: metadata["\(arch).rope.freq_base"]?.double ?? 10000,
            maxPositionEmbeddings: metadata["\(arch).context_length"]?.int ?? 2048,
            tieWordEmbeddings: tensors["output.weight"] == nil,
            attentionBias: tensors["blk.0.attn_q.bias"] != nil)
        do { try config.validate() } catch let e as LlamaConfig.Invalid {
            let key = Self.ggufKeys[e.field].map { "\(arch).\($0)" } ?? e.field
            throw GGUFError.corrupt(file: path, reason: "\(key) = \(e.value): \(e.reason)")
        }
        return config
    }

    /// GGUF's metadata key (after `{arch}.`) for each config.json field, for error messages.
    static let ggufKeys = [
        "vocab_size": "vocab_size", "hidden_size": "embedding_length", "intermediate_size": "feed_forward_length",
        "num_hidden_layers": "block_count", "num_attention_heads": "attention.head_count",
        "num_key_value_heads": "attention.head_count_kv", "head_dim": "attention.key_length",
        "max_position_embeddings": "context_length", "rms_norm_eps": "attention.layer_norm_rms_epsilon", "rope_theta": "rope.freq_base",
    ]

    /// GGUF's tensor name for a Hugging Face parameter name, or nil if it has none.
    public static func ggufName(forHF name: String) -> String? {
        let fixed = ["model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight", "lm_head.weight": "output.weight"]
        if let f = fixed[name] { return f }
        let parts = name.split(separator: ".", maxSplits: 3).map(String.init)
        guard parts.count == 4, parts[0] == "model", parts[1] == "layers" else { return nil }
        let layerMap = [
            "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm",
            "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output",
            "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down",
        ]
        let rest = parts[3]
        guard let dot = rest.lastIndex(of: ".") else { return nil }
        let module = String(rest[..<dot]), kind = String(rest[rest.index(after: dot)...])
        guard let g = layerMap[module] else { return nil }
        return "blk.\(parts[2]).\(g).\(kind)"
    }

    /// Every weight the configuration needs, dequantized to Float32, under Hugging Face names.
    /// llama.cpp stores Llama's q and k projections with the rows of each head interleaved
    /// (its rotary convention); they are put back in Hugging Face's rotate-half order here.
    public func llamaWeights(config: LlamaConfig) throws -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        let arch = metadata["general.architecture"]?.string ?? "llama"
        for (name, shape) in LlamaModel.expectedShapes(config) {
            guard let g = GGUFFile.ggufName(forHF: name) else { throw GGUFError.missingTensor(file: path, tensor: name) }
            var t = try tensor(g)
            guard t.shape == shape else {
                throw GGUFError.badTensor(file: path, tensor: g, reason: "shape \(t.shape), expected \(shape) for \(name)")
            }
            if arch != "qwen2" {
                if name.hasSuffix("self_attn.q_proj.weight") || name.hasSuffix("self_attn.q_proj.bias") {
                    t = GGUFFile.unpermuteRotaryRows(t, heads: config.numAttentionHeads)
                } else if name.hasSuffix("self_attn.k_proj.weight") || name.hasSuffix("self_attn.k_proj.bias") {
                    t = GGUFFile.unpermuteRotaryRows(t, heads: config.numKeyValueHeads)
                }
            }
            out[name] = t
        }
        return out
    }

    /// The projection weights stored in a block format with a matmul kernel (Q8_0, Q4_0, Q4_1),
    /// kept as they are for decoding, under Hugging Face names and in Hugging Face row order.
    public func llamaQuantizedWeights(config: LlamaConfig) throws -> [String: QuantizedMatrix] {
        var out: [String: QuantizedMatrix] = [:]
        let arch = metadata["general.architecture"]?.string ?? "llama"
        for (name, shape) in LlamaModel.expectedShapes(config) where shape.count == 2 {
            guard let g = GGUFFile.ggufName(forHF: name), let info = tensors[g], QuantizedMatrix.supportedTypes.contains(info.type),
                  info.shape == shape else { continue }
            var order: [Int]?
            if arch != "qwen2" {
                if name.hasSuffix("self_attn.q_proj.weight") {
                    order = GGUFFile.rotaryRowOrder(rows: shape[0], heads: config.numAttentionHeads)
                } else if name.hasSuffix("self_attn.k_proj.weight") {
                    order = GGUFFile.rotaryRowOrder(rows: shape[0], heads: config.numKeyValueHeads)
                }
            }
            out[name] = QuantizedMatrix(type: info.type, rows: shape[0], cols: shape[1], bytes: try rawBytes(g), rowOrder: order)
        }
        return out
    }

    /// For each Hugging Face row, the GGUF row holding it: within each head of D rows, GGUF row
    /// 2i + t holds Hugging Face row t * D/2 + i.
    static func rotaryRowOrder(rows: Int, heads: Int) -> [Int] {
        let d = rows / heads, half = d / 2
        var order = [Int](repeating: 0, count: rows)
        for h in 0..<heads { for s in 0..<2 { for i in 0..<half { order[h * d + s * half + i] = h * d + 2 * i + s } } }
        return order
    }

    static func unpermuteRotaryRows(_ t: Tensor, heads: Int) -> Tensor {
        let rows = t.shape[0], cols = t.count / rows
        let out = Tensor(uninitialized: t.shape)
        for (i, src) in rotaryRowOrder(rows: rows, heads: heads).enumerated() {
            (out.data + i * cols).update(from: t.data + src * cols, count: cols)
        }
        return out
    }
}
