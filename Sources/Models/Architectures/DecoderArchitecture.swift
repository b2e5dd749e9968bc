import Tensor

/// One decoder architecture: the `model_type`s it reads, the parameters its checkpoints hold
/// (Hugging Face names, built with `WeightScope`), the projections LoRA can adapt, and its
/// decoder layer. Everything else (embeddings, the final norm, the output head, rotary angles,
/// the KV cache, decoding) is shared by `LlamaModel`. Adding an architecture is one file with
/// a type conforming to this, listed in `Architectures.all`.
public protocol DecoderArchitecture: Sendable {
    /// config.json's `model_type` values this architecture reads.
    var modelTypes: [String] { get }
    /// transformers' class for config.json's `architectures` ("LlamaForCausalLM").
    func huggingFaceClass(modelType: String) -> String
    /// The parameters of decoder layer `layer` (`scope` is `model.layers.<i>`), with shapes.
    func layerParameterShapes(_ c: LlamaConfig, scope: WeightScope) -> [(String, [Int])]
    /// The projections LoRA can adapt, as PEFT's `target_modules` names them.
    var linearModules: [String] { get }
    /// Module names of other architectures that are part of one of this one's fused
    /// projections (Phi-3: q_proj, k_proj and v_proj are parts of qkv_proj), so a LoRA
    /// target list written for Llama means the same projections here.
    var fusedModules: [String: String] { get }
    /// Keys transformers expects in this architecture's config.json beyond the shared ones.
    func extraConfigKeys(_ c: LlamaConfig) -> [String: Sendable]
    /// One decoder layer over the residual stream h [B, T, hidden].
    func decoderLayer(_ m: LlamaModel, layer: Int, _ h: Variable, rope: RopeAngles, cache: KVCache?) -> Variable
    /// What the token embeddings are multiplied by before the first layer (Gemma: sqrt(hidden)).
    func embeddingScale(_ c: LlamaConfig) -> Float?
    /// Added to every RMSNorm weight (Gemma stores w and scales by 1 + w).
    var normWeightOffset: Float { get }
    /// The attention of layer `layer`: its scale, score cap and sliding window.
    func attentionOptions(_ c: LlamaConfig, layer: Int) -> AttentionOptions
    /// logits become cap * tanh(logits / cap) when set (Gemma 2's final_logit_softcapping).
    func finalLogitSoftcap(_ c: LlamaConfig) -> Float?
}

extension DecoderArchitecture {
    public var fusedModules: [String: String] { [:] }
    public func extraConfigKeys(_ c: LlamaConfig) -> [String: Sendable] { [:] }
    public func embeddingScale(_ c: LlamaConfig) -> Float? { nil }
    public var normWeightOffset: Float { 0 }
    public func attentionOptions(_ c: LlamaConfig, layer: Int) -> AttentionOptions { AttentionOptions() }
    public func finalLogitSoftcap(_ c: LlamaConfig) -> Float? { nil }
}

/// Rotary angles for the positions of one forward pass: cos and sin [positions, headDim / 2].
public struct RopeAngles {
    public let cos: Tensor
    public let sin: Tensor
}

/// The architectures saro runs, by `model_type`.
public enum Architectures {
    public static let all: [any DecoderArchitecture] = [LlamaFamily(), Phi3(), Gemma2()]

    public static func named(_ modelType: String) -> (any DecoderArchitecture)? {
        all.first { $0.modelTypes.contains(modelType) }
    }

    public static var modelTypes: [String] { all.flatMap(\.modelTypes).sorted() }

    /// The scope of decoder layer `i`: `model.layers.<i>`.
    public static func layer(_ i: Int) -> WeightScope { WeightScope.root["model"]["layers"][i] }
}
