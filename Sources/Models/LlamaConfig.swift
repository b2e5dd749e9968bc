import Foundation
import Tensor

/// A decoder's `config.json`, with Hugging Face's keys: the fields Llama 2/3, Mistral, Qwen2,
/// SmolLM2, Phi-3 and Gemma 2 share, and Gemma 2's own (`gemma`). `model_type` picks the architecture (`Architectures`), which
/// decides the layer's parameters and forward pass.
public struct LlamaConfig: Codable, Sendable, Equatable {
    public static var supportedModelTypes: [String] { Architectures.modelTypes }

    public var modelType: String
    public var vocabSize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var numKeyValueHeads: Int
    public var headDim: Int
    public var rmsNormEps: Double
    public var ropeTheta: Double
    public var ropeScaling: RopeScaling?
    public var maxPositionEmbeddings: Int
    public var tieWordEmbeddings: Bool
    /// `attention_bias`: biases on the attention projections (Llama and Mistral: q, k, v and
    /// o; Qwen2 has q, k and v biases whatever this says).
    public var attentionBias: Bool
    /// `mlp_bias`: biases on gate, up and down projections (Llama).
    public var mlpBias: Bool
    public var hiddenAct: String
    /// Gemma 2's settings, read for model_type gemma2 only.
    public var gemma: GemmaSettings?

    /// Gemma 2's config keys: attention scaled by query_pre_attn_scalar^-0.5, attention scores
    /// and final logits soft-capped, sliding-window attention on the layers `layer_types` names.
    public struct GemmaSettings: Sendable, Equatable {
        public var queryPreAttnScalar: Double
        public var attnLogitSoftcapping: Double?
        public var finalLogitSoftcapping: Double?
        public var slidingWindow: Int?
        /// "sliding_attention" or "full_attention" per layer.
        public var layerTypes: [String]
        public init(queryPreAttnScalar: Double, attnLogitSoftcapping: Double? = 50, finalLogitSoftcapping: Double? = 30, slidingWindow: Int? = 4096, layerTypes: [String]) {
            self.queryPreAttnScalar = queryPreAttnScalar; self.attnLogitSoftcapping = attnLogitSoftcapping
            self.finalLogitSoftcapping = finalLogitSoftcapping; self.slidingWindow = slidingWindow; self.layerTypes = layerTypes
        }
        /// transformers' default: even layers (0, 2, ...) slide, odd ones attend to everything.
        public static func alternatingLayers(_ n: Int) -> [String] { (0..<n).map { $0 % 2 == 0 ? "sliding_attention" : "full_attention" } }
    }

    /// `rope_scaling` (or transformers 5's `rope_parameters`): only "default" and "llama3" are
    /// supported; anything else is refused rather than silently ignored.
    public struct RopeScaling: Codable, Sendable, Equatable {
        public var ropeType: String
        public var factor: Double?
        public var lowFreqFactor: Double?
        public var highFreqFactor: Double?
        public var originalMaxPositionEmbeddings: Int?
        enum CodingKeys: String, CodingKey {
            case ropeType = "rope_type", type, factor, lowFreqFactor = "low_freq_factor", highFreqFactor = "high_freq_factor"
            case originalMaxPositionEmbeddings = "original_max_position_embeddings"
        }
        public init(ropeType: String, factor: Double? = nil, lowFreqFactor: Double? = nil, highFreqFactor: Double? = nil, originalMaxPositionEmbeddings: Int? = nil) {
            self.ropeType = ropeType; self.factor = factor; self.lowFreqFactor = lowFreqFactor
            self.highFreqFactor = highFreqFactor; self.originalMaxPositionEmbeddings = originalMaxPositionEmbeddings
        }
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            ropeType = try c.decodeIfPresent(String.self, forKey: .ropeType) ?? c.decodeIfPresent(String.self, forKey: .type) ?? "default"
            factor = try c.decodeIfPresent(Double.self, forKey: .factor)
            lowFreqFactor = try c.decodeIfPresent(Double.self, forKey: .lowFreqFactor)
            highFreqFactor = try c.decodeIfPresent(Double.self, forKey: .highFreqFactor)
            originalMaxPositionEmbeddings = try c.decodeIfPresent(Int.self, forKey: .originalMaxPositionEmbeddings)
        }
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(ropeType, forKey: .ropeType)
            try c.encodeIfPresent(factor, forKey: .factor)
            try c.encodeIfPresent(lowFreqFactor, forKey: .lowFreqFactor)
            try c.encodeIfPresent(highFreqFactor, forKey: .highFreqFactor)
            try c.encodeIfPresent(originalMaxPositionEmbeddings, forKey: .originalMaxPositionEmbeddings)
        }
    }

    enum CodingKeys: String, CodingKey {
        case modelType = "model_type", vocabSize = "vocab_size", hiddenSize = "hidden_size"
        case intermediateSize = "intermediate_size", numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads", numKeyValueHeads = "num_key_value_heads"
        case headDim = "head_dim", rmsNormEps = "rms_norm_eps", ropeTheta = "rope_theta"
        case ropeScaling = "rope_scaling", ropeParameters = "rope_parameters"
        case maxPositionEmbeddings = "max_position_embeddings", tieWordEmbeddings = "tie_word_embeddings"
        case attentionBias = "attention_bias", mlpBias = "mlp_bias", hiddenAct = "hidden_act"
        case partialRotaryFactor = "partial_rotary_factor"
        case hiddenActivation = "hidden_activation", queryPreAttnScalar = "query_pre_attn_scalar"
        case attnLogitSoftcapping = "attn_logit_softcapping", finalLogitSoftcapping = "final_logit_softcapping"
        case slidingWindow = "sliding_window", layerTypes = "layer_types"
    }

    struct RopeParameters: Decodable {
        var ropeTheta: Double?
        var partialRotaryFactor: Double?
        enum CodingKeys: String, CodingKey { case ropeTheta = "rope_theta", partialRotaryFactor = "partial_rotary_factor" }
    }

    public init(modelType: String = "llama", vocabSize: Int, hiddenSize: Int, intermediateSize: Int, numHiddenLayers: Int,
                numAttentionHeads: Int, numKeyValueHeads: Int? = nil, headDim: Int? = nil, rmsNormEps: Double = 1e-5,
                ropeTheta: Double = 10000, ropeScaling: RopeScaling? = nil, maxPositionEmbeddings: Int = 2048,
                tieWordEmbeddings: Bool = false, attentionBias: Bool? = nil, mlpBias: Bool = false, hiddenAct: String = "silu") {
        self.modelType = modelType; self.vocabSize = vocabSize; self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize; self.numHiddenLayers = numHiddenLayers
        self.numAttentionHeads = numAttentionHeads; self.numKeyValueHeads = numKeyValueHeads ?? numAttentionHeads
        self.headDim = headDim ?? (numAttentionHeads > 0 ? hiddenSize / numAttentionHeads : 0); self.rmsNormEps = rmsNormEps
        self.ropeTheta = ropeTheta; self.ropeScaling = ropeScaling; self.maxPositionEmbeddings = maxPositionEmbeddings
        self.tieWordEmbeddings = tieWordEmbeddings; self.attentionBias = attentionBias ?? false
        self.mlpBias = mlpBias; self.hiddenAct = hiddenAct
        if modelType == "gemma2" {
            // A Gemma 2 made in code (saro model init) scales attention by the head size, as
            // Gemma 2's 2B and 9B configurations do, and writes every Gemma key to config.json.
            self.hiddenAct = "gelu_pytorch_tanh"
            gemma = GemmaSettings(queryPreAttnScalar: Double(self.headDim), layerTypes: GemmaSettings.alternatingLayers(numHiddenLayers))
        }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        modelType = try c.decode(String.self, forKey: .modelType)
        guard Self.supportedModelTypes.contains(modelType) else {
            throw DecodingError.dataCorruptedError(forKey: .modelType, in: c,
                debugDescription: "model_type '\(modelType)' is not supported (supported: \(Self.supportedModelTypes.joined(separator: ", ")))")
        }
        vocabSize = try c.decode(Int.self, forKey: .vocabSize)
        hiddenSize = try c.decode(Int.self, forKey: .hiddenSize)
        intermediateSize = try c.decode(Int.self, forKey: .intermediateSize)
        numHiddenLayers = try c.decode(Int.self, forKey: .numHiddenLayers)
        numAttentionHeads = try c.decode(Int.self, forKey: .numAttentionHeads)
        numKeyValueHeads = try c.decodeIfPresent(Int.self, forKey: .numKeyValueHeads) ?? numAttentionHeads
        headDim = try c.decodeIfPresent(Int.self, forKey: .headDim) ?? (numAttentionHeads > 0 ? hiddenSize / numAttentionHeads : 0)
        rmsNormEps = try c.decodeIfPresent(Double.self, forKey: .rmsNormEps) ?? 1e-6
        let params = try c.decodeIfPresent(RopeParameters.self, forKey: .ropeParameters)
        ropeTheta = try c.decodeIfPresent(Double.self, forKey: .ropeTheta) ?? params?.ropeTheta ?? 10000
        ropeScaling = try c.decodeIfPresent(RopeScaling.self, forKey: .ropeScaling) ?? c.decodeIfPresent(RopeScaling.self, forKey: .ropeParameters)
        if ropeScaling?.ropeType == "default" { ropeScaling = nil }  // plain RoPE: nothing to scale
        maxPositionEmbeddings = try c.decodeIfPresent(Int.self, forKey: .maxPositionEmbeddings) ?? 2048
        tieWordEmbeddings = try c.decodeIfPresent(Bool.self, forKey: .tieWordEmbeddings) ?? false
        attentionBias = try c.decodeIfPresent(Bool.self, forKey: .attentionBias) ?? false
        mlpBias = try c.decodeIfPresent(Bool.self, forKey: .mlpBias) ?? false
        if modelType == "gemma2" {
            hiddenAct = try c.decodeIfPresent(String.self, forKey: .hiddenActivation) ?? c.decodeIfPresent(String.self, forKey: .hiddenAct) ?? "gelu_pytorch_tanh"
            guard hiddenAct == "gelu_pytorch_tanh" else {
                throw DecodingError.dataCorruptedError(forKey: .hiddenActivation, in: c, debugDescription: "hidden_activation '\(hiddenAct)' is not supported for gemma2 (only gelu_pytorch_tanh)")
            }
            let layers = try c.decodeIfPresent([String].self, forKey: .layerTypes) ?? GemmaSettings.alternatingLayers(numHiddenLayers)
            guard layers.count == numHiddenLayers, layers.allSatisfy({ ["sliding_attention", "full_attention"].contains($0) }) else {
                throw DecodingError.dataCorruptedError(forKey: .layerTypes, in: c, debugDescription: "layer_types must name sliding_attention or full_attention for each of the \(numHiddenLayers) layers")
            }
            gemma = GemmaSettings(queryPreAttnScalar: try c.decodeIfPresent(Double.self, forKey: .queryPreAttnScalar) ?? 256,
                                  attnLogitSoftcapping: try c.decodeIfPresent(Double.self, forKey: .attnLogitSoftcapping),
                                  finalLogitSoftcapping: try c.decodeIfPresent(Double.self, forKey: .finalLogitSoftcapping),
                                  slidingWindow: try c.decodeIfPresent(Int.self, forKey: .slidingWindow), layerTypes: layers)
            guard gemma!.queryPreAttnScalar > 0, (gemma!.slidingWindow ?? 1) > 0, (gemma!.attnLogitSoftcapping ?? 1) > 0, (gemma!.finalLogitSoftcapping ?? 1) > 0 else {
                throw DecodingError.dataCorruptedError(forKey: .queryPreAttnScalar, in: c, debugDescription: "query_pre_attn_scalar, sliding_window and the softcapping values must be positive")
            }
        } else {
            hiddenAct = try c.decodeIfPresent(String.self, forKey: .hiddenAct) ?? "silu"
            guard hiddenAct == "silu" else {
                throw DecodingError.dataCorruptedError(forKey: .hiddenAct, in: c, debugDescription: "hidden_act '\(hiddenAct)' is not supported (only silu)")
            }
        }
        // Rotary embeddings over part of each head (Phi-3's and Phi-2's partial_rotary_factor)
        // are not implemented: refused rather than computed wrongly.
        let partial = try c.decodeIfPresent(Double.self, forKey: .partialRotaryFactor) ?? params?.partialRotaryFactor ?? 1
        guard partial == 1 else {
            throw DecodingError.dataCorruptedError(forKey: .partialRotaryFactor, in: c, debugDescription: "partial_rotary_factor \(partial) is not supported (only 1.0: rotary embeddings over the whole head)")
        }
        try validate()
        if let s = ropeScaling, !["default", "llama3"].contains(s.ropeType) {
            throw DecodingError.dataCorruptedError(forKey: .ropeScaling, in: c, debugDescription: "rope scaling type '\(s.ropeType)' is not supported (default, llama3)")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(modelType, forKey: .modelType); try c.encode(vocabSize, forKey: .vocabSize)
        try c.encode(hiddenSize, forKey: .hiddenSize); try c.encode(intermediateSize, forKey: .intermediateSize)
        try c.encode(numHiddenLayers, forKey: .numHiddenLayers); try c.encode(numAttentionHeads, forKey: .numAttentionHeads)
        try c.encode(numKeyValueHeads, forKey: .numKeyValueHeads); try c.encode(headDim, forKey: .headDim)
        try c.encode(rmsNormEps, forKey: .rmsNormEps); try c.encode(ropeTheta, forKey: .ropeTheta)
        try c.encodeIfPresent(ropeScaling, forKey: .ropeScaling); try c.encode(maxPositionEmbeddings, forKey: .maxPositionEmbeddings)
        try c.encode(tieWordEmbeddings, forKey: .tieWordEmbeddings); try c.encode(attentionBias, forKey: .attentionBias)
        try c.encode(mlpBias, forKey: .mlpBias)
        try c.encode(hiddenAct, forKey: .hiddenAct)
        if let g = gemma {
            try c.encode(hiddenAct, forKey: .hiddenActivation)
            try c.encode(g.queryPreAttnScalar, forKey: .queryPreAttnScalar)
            try c.encode(g.attnLogitSoftcapping, forKey: .attnLogitSoftcapping)
            try c.encode(g.finalLogitSoftcapping, forKey: .finalLogitSoftcapping)
            try c.encode(g.slidingWindow, forKey: .slidingWindow)
            try c.encode(g.layerTypes, forKey: .layerTypes)
        }
    }

    /// The architecture `model_type` names. Decoding refuses model types no architecture
    /// reads; a configuration built in code with another falls back to the Llama layer.
    public var architecture: any DecoderArchitecture { Architectures.named(modelType) ?? LlamaFamily() }

    /// Rotary inverse frequencies for this model (with Llama 3 scaling when configured).
    public var ropeInverseFrequencies: [Float] {
        var llama3: Rope.Llama3Scaling? = nil
        if let s = ropeScaling, s.ropeType == "llama3" {
            llama3 = Rope.Llama3Scaling(factor: s.factor ?? 8, lowFreqFactor: s.lowFreqFactor ?? 1, highFreqFactor: s.highFreqFactor ?? 4,
                                        originalMaxPositionEmbeddings: s.originalMaxPositionEmbeddings ?? 8192)
        }
        return Rope.inverseFrequencies(headDim: headDim, theta: ropeTheta, llama3: llama3)
    }
}
