import Foundation
import Tensor

/// Errors from building a model out of named weights.
public enum ModelError: Error, CustomStringConvertible {
    case missingWeight(String)
    case wrongShape(name: String, expected: [Int], found: [Int])
    case unknownModule(String)

    public var description: String {
        switch self {
        case .missingWeight(let n): return "missing weight '\(n)'"
        case .wrongShape(let n, let e, let f): return "weight '\(n)' has shape \(f), expected \(e)"
        case .unknownModule(let m): return m
        }
    }
}

/// A decoder-only transformer: embeddings, N decoder layers as the configuration's
/// architecture (`DecoderArchitecture`: Llama, Mistral, Qwen2, Phi-3) defines them, a final
/// RMSNorm and the output head. Parameters are variables named as in Hugging Face
/// checkpoints, so loading, saving and adapters all speak the same names.
public final class LlamaModel {
    public let config: LlamaConfig
    /// Every parameter by its Hugging Face name. With tied embeddings, lm_head is not a
    /// separate entry: the head reads `model.embed_tokens.weight`.
    public let parameters: [String: Variable]
    /// Block-quantized copies of projection weights (from a GGUF file), used instead of the
    /// float32 weights when a few rows are multiplied without gradients: decoding. Without a
    /// quantized copy, such products still go through the same few-rows kernel (float32).
    public let quantized: [String: QuantizedMatrix]
    let inverseFrequencies: [Float]
    /// LoRA adapters applied on top of the (then frozen) projections.
    public var lora: LoRAAdapters?
    /// Keep only each decoder layer's input during a training forward pass and compute the
    /// layer again in the backward pass (transformers' gradient checkpointing): activation
    /// memory falls from every layer's to one layer's, for a second forward pass.
    public var gradientCheckpointing = false
    /// Rows up to which the few-rows kernel (quantized or float32 weights) beats BLAS.
    static let fewRowsLimit = RuntimeSettings.current.fewRowsLimit

    /// Builds the model from named weights, checking every name and shape.
    public init(config: LlamaConfig, weights: [String: Tensor], trainable: Bool = false, quantized: [String: QuantizedMatrix] = [:]) throws {
        self.config = config
        self.quantized = quantized
        var params: [String: Variable] = [:]
        for (name, shape) in LlamaModel.expectedShapes(config) {
            guard let t = weights[name] else { throw ModelError.missingWeight(name) }
            guard t.shape == shape else { throw ModelError.wrongShape(name: name, expected: shape, found: t.shape) }
            params[name] = Variable(t.contiguous(), requiresGrad: trainable, name: name)
        }
        parameters = params
        inverseFrequencies = config.ropeInverseFrequencies
    }

    /// A model over already-checked parameter variables (`replica`).
    init(config: LlamaConfig, parameters: [String: Variable], quantized: [String: QuantizedMatrix]) {
        self.config = config
        self.parameters = parameters
        self.quantized = quantized
        inverseFrequencies = config.ropeInverseFrequencies
    }

    /// The parameter names and shapes a checkpoint of this configuration holds: the shared
    /// embeddings, final norm and (untied) head, then each layer's as its architecture names them.
    public static func expectedShapes(_ c: LlamaConfig) -> [(String, [Int])] {
        let model = WeightScope.root["model"]
        var out: [(String, [Int])] = [(model["embed_tokens"].weight, [c.vocabSize, c.hiddenSize]), (model["norm"].weight, [c.hiddenSize])]
        if !c.tieWordEmbeddings { out.append((WeightScope.root["lm_head"].weight, [c.vocabSize, c.hiddenSize])) }
        for i in 0..<c.numHiddenLayers { out += c.architecture.layerParameterShapes(c, scope: Architectures.layer(i)) }
        return out
    }

    /// A parameter the initializer checked is there (every name `expectedShapes` lists).
    func param(_ name: String) -> Variable { parameters[name]! }

    /// The projection `module` (its weight, its bias when the model has one), plus its LoRA
    /// adapter's contribution when it has one.
    func project(_ x: Variable, _ module: WeightScope) -> Variable {
        let bias = parameters[module.bias]
        if let y = fewRowsLinear(x, weightName: module.weight, bias: bias) {
            lora?.addDelta(x.value, path: module.path, into: y.value)
            return y
        }
        if let adapted = lora?.apply(x, path: module.path, weight: param(module.weight), bias: bias) { return adapted }
        return Ops.linear(x, weight: param(module.weight), bias: bias)
    }

    /// RMSNorm with the module's weight (plus the architecture's offset: Gemma scales by 1 + w).
    func norm(_ x: Variable, _ module: WeightScope) -> Variable {
        Ops.rmsNorm(x, weight: param(module.weight), eps: Float(config.rmsNormEps), weightOffset: config.architecture.normWeightOffset)
    }

    /// Causal grouped-query self-attention of layer `layer` over projected q [B, T, heads * headDim]
    /// and k, v [B, T, kvHeads * headDim]: RoPE on q and k, the keys and values appended to the
    /// cache when there is one, and the heads' outputs concatenated, [B, T, heads * headDim].
    func selfAttention(q: Variable, k: Variable, v: Variable, layer: Int, rope: RopeAngles, cache: KVCache?) -> Variable {
        let c = config
        let (batch, time) = (q.value.shape[0], q.value.shape[1])
        let qr = Ops.rope(q.reshaped([batch, time, c.numAttentionHeads, c.headDim]), cos: rope.cos, sin: rope.sin)
        let kr = Ops.rope(k.reshaped([batch, time, c.numKeyValueHeads, c.headDim]), cos: rope.cos, sin: rope.sin)
        let vr = v.reshaped([batch, time, c.numKeyValueHeads, c.headDim])
        let attn: Variable
        let options = c.architecture.attentionOptions(c, layer: layer)
        if let cache {
            let (keys, values) = cache.append(layer: layer, keys: kr.value, values: vr.value)
            attn = Ops.attention(q: qr, k: Variable(keys), v: Variable(values), keyStart: cache.padding, options: options)
        } else {
            attn = Ops.attention(q: qr, k: kr, v: vr, options: options)
        }
        return attn.reshaped([batch, time, c.numAttentionHeads * c.headDim])
    }

    /// Self-attention of layer `layer` with separate q_proj, k_proj and v_proj under `attn`
    /// (Llama's and Gemma's layout), before the output projection.
    func selfAttention(_ x: Variable, _ attn: WeightScope, layer: Int, rope: RopeAngles, cache: KVCache?) -> Variable {
        selfAttention(q: project(x, attn["q_proj"]), k: project(x, attn["k_proj"]), v: project(x, attn["v_proj"]), layer: layer, rope: rope, cache: cache)
    }

    /// x W^T (+ b) through the few-rows kernel, or nil when it does not apply: it takes
    /// products without gradients (decoding) of at most `fewRowsLimit` rows, on the quantized
    /// copy of W when there is one, else on a float32 W the kernel reads.
    func fewRowsLinear(_ x: Variable, weightName: String, bias: Variable?) -> Variable? {
        guard !GradMode.isEnabled, x.value.count / x.value.shape.last! <= LlamaModel.fewRowsLimit else { return nil }
        let y: Tensor
        if let q = quantized[weightName] {
            y = q.matmul(x.value)
        } else if FewRowsMatmul.supports(float32: param(weightName).value) {
            y = FewRowsMatmul.float32(x.value, weight: param(weightName).value)
        } else {
            return nil
        }
        if let bias { y.addRowVector(bias.value) }
        return Variable(y)
    }

    /// x W^T (+ b): the few-rows kernel when decoding, else BLAS.
    func linear(_ x: Variable, weightName: String, bias: Variable? = nil) -> Variable {
        fewRowsLinear(x, weightName: weightName, bias: bias) ?? Ops.linear(x, weight: param(weightName), bias: bias)
    }

    /// Logits [B, T, V] for token ids [B * T] (row-major batch, time).
    ///
    /// Without a cache every sequence starts at position 0 (training, scoring). With a cache the
    /// tokens continue the cached sequences: their keys and values are appended, attention
    /// covers all cached positions, and the cache advances by `time`. `lastOnly` computes the
    /// output head for each sequence's last position only (decoding needs nothing else).
    ///
    /// `outputRows` (positions b * time + t, without a cache) computes the final norm and the
    /// head for those positions only and returns their logits [outputRows.count, V]: a loss
    /// reads only the positions it trains on, and the head over the whole vocabulary is the
    /// largest activation of a training step (transformers' `logits_to_keep` does the same for
    /// the last positions).
    public func forward(ids: [Int32], batch: Int, time: Int, cache: KVCache? = nil, lastOnly: Bool = false, outputRows: [Int]? = nil) -> Variable {
        precondition(ids.count == batch * time, "\(ids.count) ids for batch \(batch) x time \(time)")
        precondition(cache == nil || cache!.batch == batch, "cache batch \(cache!.batch) for batch \(batch)")
        let c = config
        let positions = cache?.positions(time: time) ?? (0..<batch).flatMap { _ in (0..<time).map { Int32($0) } }
        let rope = ropeAngles(positions)
        var h = embed(ids).reshaped([batch, time, c.hiddenSize])
        let checkpointed = gradientCheckpointing && GradMode.isEnabled && cache == nil
        for i in 0..<c.numHiddenLayers {
            h = checkpointed ? checkpointedLayer(i, h, rope: rope) : c.architecture.decoderLayer(self, layer: i, h, rope: rope, cache: cache)
        }
        cache?.advance(time)
        if lastOnly && time > 1 {
            precondition(!GradMode.isEnabled, "lastOnly is for decoding without gradients")
            let last = h.value.slice(1, (time - 1)..<time).contiguous()
            h = Variable(last)
        }
        if let outputRows {
            precondition(cache == nil && !lastOnly, "outputRows is for scoring whole sequences")
            h = h.reshaped([batch * time, c.hiddenSize]).rows(outputRows)
        }
        h = norm(h, WeightScope.root["model"]["norm"])
        let logits = linear(h, weightName: c.tieWordEmbeddings ? Self.embeddings : WeightScope.root["lm_head"].weight)
        return c.architecture.finalLogitSoftcap(c).map { Ops.softcap(logits, cap: $0) } ?? logits
    }

    static let embeddings = WeightScope.root["model"]["embed_tokens"].weight

    /// The token embeddings, scaled as the architecture asks: [ids.count, hidden].
    func embed(_ ids: [Int32]) -> Variable {
        let e = Ops.embedding(param(Self.embeddings), ids: ids)
        return config.architecture.embeddingScale(config).map { $0 * e } ?? e
    }

    /// Decoder layer `i` keeping only its input: the graph of its forward pass is dropped once
    /// its output is computed, and rebuilt in the backward pass, which then runs through it.
    /// The adapters' dropout generator is rewound for the second pass so it draws the same
    /// masks, and left where the first pass left it, so training gives the same numbers with or
    /// without checkpointing.
    func checkpointedLayer(_ i: Int, _ x: Variable, rope: RopeAngles) -> Variable {
        let architecture = config.architecture
        let rngBefore = lora?.rng
        // Recorded as in training (dropout draws only when recording), then let go.
        let output = architecture.decoderLayer(self, layer: i, Variable(x.value), rope: rope, cache: nil).value
        let prefix = Architectures.layer(i).path + "."
        let trainable = parameters.filter { $0.key.hasPrefix(prefix) && $0.value.requiresGrad }.map(\.value)
            + (lora?.modules.filter { $0.key.hasPrefix(prefix) }.flatMap { [$0.value.a, $0.value.b] } ?? [])
        return Variable(result: output, parents: [x] + trainable) { [unowned self, unowned x] g in
            let rngAfter = self.lora?.rng
            if let rngBefore { self.lora?.rng = rngBefore }
            let input = Variable(x.value, requiresGrad: true)
            let again = GradMode.withGrad { architecture.decoderLayer(self, layer: i, input, rope: rope, cache: nil) }
            if let rngAfter { self.lora?.rng = rngAfter }
            again.backward(seed: g)
            if x.requiresGrad, let gi = input.grad { x.accumulateGrad(gi, owned: true) }
        }
    }

    func ropeAngles(_ positions: [Int32]) -> RopeAngles {
        let (cos, sin) = Rope.angles(positions: positions, inverseFrequencies: inverseFrequencies)
        return RopeAngles(cos: cos, sin: sin)
    }

    /// The residual stream after `layer` decoder layers for one sequence, [time, hidden]
    /// (transformers' `hidden_states[layer]`: 0 is the embeddings, the last is before the
    /// final norm). No gradients.
    public func hiddenStates(ids: [Int32], layer: Int) -> Tensor { hiddenStates(ids: ids, layers: [layer])[layer]! }

    /// The residual stream after each of `layers` decoder layers, [time, hidden] each, in one
    /// pass that stops at the deepest one asked for.
    public func hiddenStates(ids: [Int32], layers: Set<Int>) -> [Int: Tensor] {
        for l in layers { precondition((0...config.numHiddenLayers).contains(l), "layer \(l) outside 0...\(config.numHiddenLayers)") }
        return GradMode.withNoGrad {
            let rope = ropeAngles((0..<ids.count).map { Int32($0) })
            var h = embed(ids).reshaped([1, ids.count, config.hiddenSize])
            var out: [Int: Tensor] = [:]
            func keep(_ l: Int) { if layers.contains(l) { out[l] = h.value.reshaped([ids.count, config.hiddenSize]).contiguous() } }
            keep(0)
            for i in 0..<(layers.max() ?? 0) {
                h = config.architecture.decoderLayer(self, layer: i, h, rope: rope, cache: nil)
                keep(i + 1)
            }
            return out
        }
    }

    /// log p(ids[t] | ids[..<t]) for t = 1 ..< ids.count (the first token is not predicted), in
    /// one forward pass without gradients: what reference NLL and a server's prompt log-probs
    /// (`echo` with `logprobs`) both report.
    public func tokenLogProbs(_ ids: [Int]) -> [Double] {
        guard ids.count > 1 else { return [] }
        let targets = Self.shiftedTargets(labels: ids.map { Int32($0) }, batch: 1, time: ids.count)
        let logp = GradMode.withNoGrad {
            Ops.gatherLogProbs(forward(ids: ids.map { Int32($0) }, batch: 1, time: ids.count), targets: targets)
        }.value.scalars
        return (0..<(ids.count - 1)).map { Double(logp[$0]) }
    }

    /// Next-token targets for causal language modelling: target[b, t] = labels[b, t + 1], and
    /// -100 (ignored) at the last position, as transformers shifts labels inside its loss.
    public static func shiftedTargets(labels: [Int32], batch: Int, time: Int) -> [Int32] {
        var out = [Int32](repeating: -100, count: batch * time)
        for b in 0..<batch { for t in 0..<(time - 1) { out[b * time + t] = labels[b * time + t + 1] } }
        return out
    }
}

extension LlamaModel {
    /// Fresh weights as transformers initialises a Llama: normal(0, std) projections and
    /// embeddings, zero biases, unit norms. For models trained from scratch (tests, tiny recipes).
    public static func initialWeights(config: LlamaConfig, seed: UInt64, std: Float = 0.02) -> [String: Tensor] {
        var rng = SplitMix64(seed: seed)
        var out: [String: Tensor] = [:]
        for (name, shape) in expectedShapes(config) {
            if name.hasSuffix("norm.weight") { out[name] = Tensor(repeating: 1 - config.architecture.normWeightOffset, shape: shape) } else if name.hasSuffix(".bias") { out[name] = Tensor(zeros: shape) } else {
                out[name] = Tensor.randn(shape, std: std, rng: &rng)
            }
        }
        return out
    }
}
