import Models

/// The floating-point operations a LoRA SFT step must do per trained token, counted from the
/// model's shapes (2 per multiply-add), so a measured tokens/s becomes a rate of arithmetic
/// that can be set beside the machine's sgemm rate: how far a trainer is from the bound the
/// matrix products set, whatever its framework.
///
/// Per token, with P the weights of the layers' projections, H the head's (vocab x hidden),
/// a = heads x head_dim, T the mean number of keys a causal query attends to, r the rank:
/// - forward: 2P + 2H, attention 4aT per layer (scores and weighted values), LoRA 2r(in + out)
///   per adapted projection;
/// - backward with frozen weights: the inputs' gradients only, 2P + 2H, attention 8aT per layer
///   (four products), LoRA twice its forward (its weights' and its input's gradients);
/// - gradient checkpointing: the layers' forward once more (2P, 4aT, the LoRA forward).
public struct StepArithmetic: Sendable {
    public var forward: Double
    public var backward: Double
    public var recompute: Double
    public var total: Double { forward + backward + recompute }

    public init(config c: LlamaConfig, length: Int, rank: Int, gradientCheckpointing: Bool) {
        var layerWeights = 0.0, loraPerToken = 0.0
        for (name, shape) in LlamaModel.expectedShapes(c) where shape.count == 2 && name.contains(".layers.") {
            layerWeights += Double(shape[0] * shape[1])
            loraPerToken += 2 * Double(rank * (shape[0] + shape[1]))
        }
        let head = Double(c.vocabSize * c.hiddenSize)
        let meanKeys = Double(length + 1) / 2
        let attention = 4 * Double(c.numAttentionHeads * c.headDim) * meanKeys * Double(c.numHiddenLayers)
        let layersForward = 2 * layerWeights + attention + loraPerToken
        forward = layersForward + 2 * head
        backward = 2 * layerWeights + 2 * attention + 2 * loraPerToken + 2 * head
        recompute = gradientCheckpointing ? layersForward : 0
    }
}
