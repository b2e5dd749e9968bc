import Tensor

/// Llama, Mistral and Qwen2 (transformers' LlamaForCausalLM and its near copies; SmolLM2 is
/// a Llama): per layer RMSNorm -> grouped-query attention with RoPE on separate q, k, v
/// projections -> residual, RMSNorm -> SwiGLU MLP (gate_proj, up_proj, down_proj) -> residual.
/// Their differences are biases: Llama's `attention_bias` puts them on q, k, v and o, its
/// `mlp_bias` on the MLP; Qwen2 always has q, k and v biases and never one on o.
struct LlamaFamily: DecoderArchitecture {
    let modelTypes = ["llama", "mistral", "qwen2"]
    let linearModules = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]

    func huggingFaceClass(modelType: String) -> String {
        switch modelType {
        case "qwen2": return "Qwen2ForCausalLM"
        case "mistral": return "MistralForCausalLM"
        default: return "LlamaForCausalLM"
        }
    }

    func extraConfigKeys(_ c: LlamaConfig) -> [String: Sendable] {
        c.modelType == "qwen2" ? ["use_sliding_window": false] : [:]
    }

    func qkvBias(_ c: LlamaConfig) -> Bool { c.modelType == "qwen2" || c.attentionBias }
    func outputBias(_ c: LlamaConfig) -> Bool { c.modelType != "qwen2" && c.attentionBias }

    func layerParameterShapes(_ c: LlamaConfig, scope s: WeightScope) -> [(String, [Int])] {
        let q = c.numAttentionHeads * c.headDim, kv = c.numKeyValueHeads * c.headDim, h = c.hiddenSize, i = c.intermediateSize
        let attn = s["self_attn"], mlp = s["mlp"]
        var out: [(String, [Int])] = [
            (s["input_layernorm"].weight, [h]),
            (attn["q_proj"].weight, [q, h]), (attn["k_proj"].weight, [kv, h]), (attn["v_proj"].weight, [kv, h]), (attn["o_proj"].weight, [h, q]),
            (s["post_attention_layernorm"].weight, [h]),
            (mlp["gate_proj"].weight, [i, h]), (mlp["up_proj"].weight, [i, h]), (mlp["down_proj"].weight, [h, i]),
        ]
        if qkvBias(c) { out += [(attn["q_proj"].bias, [q]), (attn["k_proj"].bias, [kv]), (attn["v_proj"].bias, [kv])] }
        if outputBias(c) { out.append((attn["o_proj"].bias, [h])) }
        if c.mlpBias { out += [(mlp["gate_proj"].bias, [i]), (mlp["up_proj"].bias, [i]), (mlp["down_proj"].bias, [h])] }
        return out
    }

    func decoderLayer(_ m: LlamaModel, layer i: Int, _ hIn: Variable, rope: RopeAngles, cache: KVCache?) -> Variable {
        let s = Architectures.layer(i), attn = s["self_attn"], mlp = s["mlp"]
        var h = hIn
        let a = m.selfAttention(m.norm(h, s["input_layernorm"]), attn, layer: i, rope: rope, cache: cache)
        h = h + m.project(a, attn["o_proj"])
        let y = m.norm(h, s["post_attention_layernorm"])
        return h + m.project(Ops.swiglu(gate: m.project(y, mlp["gate_proj"]), up: m.project(y, mlp["up_proj"])), mlp["down_proj"])
    }
}
