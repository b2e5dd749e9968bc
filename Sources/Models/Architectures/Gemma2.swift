import Tensor

/// Gemma 2 (transformers' Gemma2ForCausalLM): the Llama projections (q, k, v, o; gate, up,
/// down; no biases) with four RMSNorms per layer, each scaling by 1 + w:
///   h += post_attention_layernorm(attention(input_layernorm(h)))
///   h += post_feedforward_layernorm(mlp(pre_feedforward_layernorm(h)))
/// The MLP is GeGLU with GELU's tanh approximation; embeddings are multiplied by
/// sqrt(hidden_size); attention scores are scaled by query_pre_attn_scalar^-0.5 and capped at
/// attn_logit_softcapping, the layers `layer_types` calls sliding see only their
/// sliding_window latest keys, and the final logits are capped at final_logit_softcapping.
struct Gemma2: DecoderArchitecture {
    let modelTypes = ["gemma2"]
    let linearModules = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    let normWeightOffset: Float = 1

    func huggingFaceClass(modelType: String) -> String { "Gemma2ForCausalLM" }

    func layerParameterShapes(_ c: LlamaConfig, scope s: WeightScope) -> [(String, [Int])] {
        let q = c.numAttentionHeads * c.headDim, kv = c.numKeyValueHeads * c.headDim, h = c.hiddenSize, i = c.intermediateSize
        let attn = s["self_attn"], mlp = s["mlp"]
        return [
            (s["input_layernorm"].weight, [h]),
            (attn["q_proj"].weight, [q, h]), (attn["k_proj"].weight, [kv, h]), (attn["v_proj"].weight, [kv, h]), (attn["o_proj"].weight, [h, q]),
            (s["post_attention_layernorm"].weight, [h]), (s["pre_feedforward_layernorm"].weight, [h]),
            (mlp["gate_proj"].weight, [i, h]), (mlp["up_proj"].weight, [i, h]), (mlp["down_proj"].weight, [h, i]),
            (s["post_feedforward_layernorm"].weight, [h]),
        ]
    }

    func settings(_ c: LlamaConfig) -> LlamaConfig.GemmaSettings {
        c.gemma ?? .init(queryPreAttnScalar: Double(c.headDim), layerTypes: LlamaConfig.GemmaSettings.alternatingLayers(c.numHiddenLayers))
    }

    func embeddingScale(_ c: LlamaConfig) -> Float? { Float(c.hiddenSize).squareRoot() }

    func attentionOptions(_ c: LlamaConfig, layer: Int) -> AttentionOptions {
        let g = settings(c)
        let sliding = layer < g.layerTypes.count && g.layerTypes[layer] == "sliding_attention"
        return AttentionOptions(scale: Float(1 / g.queryPreAttnScalar.squareRoot()), softcap: g.attnLogitSoftcapping.map { Float($0) },
                                window: sliding ? g.slidingWindow : nil)
    }

    func finalLogitSoftcap(_ c: LlamaConfig) -> Float? { settings(c).finalLogitSoftcapping.map { Float($0) } }

    func decoderLayer(_ m: LlamaModel, layer i: Int, _ hIn: Variable, rope: RopeAngles, cache: KVCache?) -> Variable {
        let s = Architectures.layer(i), attn = s["self_attn"], mlp = s["mlp"]
        var h = hIn
        let a = m.selfAttention(m.norm(h, s["input_layernorm"]), attn, layer: i, rope: rope, cache: cache)
        h = h + m.norm(m.project(a, attn["o_proj"]), s["post_attention_layernorm"])
        let y = m.norm(h, s["pre_feedforward_layernorm"])
        let f = m.project(Ops.gegluTanh(gate: m.project(y, mlp["gate_proj"]), up: m.project(y, mlp["up_proj"])), mlp["down_proj"])
        return h + m.norm(f, s["post_feedforward_layernorm"])
    }
}
