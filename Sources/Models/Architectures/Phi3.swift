import Tensor

/// Phi-3 (transformers' Phi3ForCausalLM): the Llama layer with fused projections. One
/// `qkv_proj` [q + 2 kv, hidden] gives the queries, keys and values in that order, one
/// `gate_up_proj` [2 intermediate, hidden] the SwiGLU gate and then its up projection; no
/// biases. LoRA adapts the fused modules (PEFT's names for Phi-3: qkv_proj, o_proj,
/// gate_up_proj, down_proj).
struct Phi3: DecoderArchitecture {
    let modelTypes = ["phi3"]
    let linearModules = ["qkv_proj", "o_proj", "gate_up_proj", "down_proj"]
    let fusedModules = ["q_proj": "qkv_proj", "k_proj": "qkv_proj", "v_proj": "qkv_proj", "gate_proj": "gate_up_proj", "up_proj": "gate_up_proj"]

    func huggingFaceClass(modelType: String) -> String { "Phi3ForCausalLM" }

    func layerParameterShapes(_ c: LlamaConfig, scope s: WeightScope) -> [(String, [Int])] {
        let q = c.numAttentionHeads * c.headDim, kv = c.numKeyValueHeads * c.headDim, h = c.hiddenSize, i = c.intermediateSize
        return [
            (s["input_layernorm"].weight, [h]),
            (s["self_attn"]["qkv_proj"].weight, [q + 2 * kv, h]), (s["self_attn"]["o_proj"].weight, [h, q]),
            (s["post_attention_layernorm"].weight, [h]),
            (s["mlp"]["gate_up_proj"].weight, [2 * i, h]), (s["mlp"]["down_proj"].weight, [h, i]),
        ]
    }

    func decoderLayer(_ m: LlamaModel, layer i: Int, _ hIn: Variable, rope: RopeAngles, cache: KVCache?) -> Variable {
        let c = m.config, s = Architectures.layer(i), attn = s["self_attn"], mlp = s["mlp"]
        let q = c.numAttentionHeads * c.headDim, kv = c.numKeyValueHeads * c.headDim, inner = c.intermediateSize
        var h = hIn
        let qkv = m.project(m.norm(h, s["input_layernorm"]), attn["qkv_proj"])
        let a = m.selfAttention(q: qkv.columns(0..<q), k: qkv.columns(q..<(q + kv)), v: qkv.columns((q + kv)..<(q + 2 * kv)),
                                layer: i, rope: rope, cache: cache)
        h = h + m.project(a, attn["o_proj"])
        let gateUp = m.project(m.norm(h, s["post_attention_layernorm"]), mlp["gate_up_proj"])
        return h + m.project(Ops.swiglu(gate: gateUp.columns(0..<inner), up: gateUp.columns(inner..<(2 * inner))), mlp["down_proj"])
    }
}
