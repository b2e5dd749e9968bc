import Foundation

/// Sizes a configuration may hold, checked before anything is allocated from them: a corrupt
/// or hostile config.json or GGUF header names a field and its limit instead of dividing by
/// zero, looping over a negative count or asking for terabytes.
extension LlamaConfig {
    public struct Invalid: Error, CustomStringConvertible {
        /// Hugging Face's key (config.json's field name).
        public let field: String
        public let value: String
        public let reason: String
        public var description: String { "\(field) = \(value): \(reason)" }
    }

    /// Upper bounds well above every released model (Llama 3.1 405B: width 16,384, 126 layers,
    /// 128 heads, 128k context, vocabulary 128,256; Gemma's 256,000).
    public static let limits = (vocab: 1 << 22, hidden: 1 << 16, intermediate: 1 << 19, layers: 1024, heads: 1024,
                                headDim: 1024, context: 1 << 24)

    /// Throws the first field out of range; `memoryBytes` is what the float32 weights may take.
    public func validate(memoryBytes: UInt64 = ProcessInfo.processInfo.physicalMemory) throws {
        func check(_ field: String, _ v: Int, _ range: ClosedRange<Int>) throws {
            guard range.contains(v) else { throw Invalid(field: field, value: "\(v)", reason: "must be in \(range.lowerBound)...\(range.upperBound)") }
        }
        let l = Self.limits
        try check("vocab_size", vocabSize, 1...l.vocab)
        try check("hidden_size", hiddenSize, 1...l.hidden)
        try check("intermediate_size", intermediateSize, 1...l.intermediate)
        try check("num_hidden_layers", numHiddenLayers, 1...l.layers)
        try check("num_attention_heads", numAttentionHeads, 1...l.heads)
        try check("num_key_value_heads", numKeyValueHeads, 1...numAttentionHeads)
        guard numAttentionHeads % numKeyValueHeads == 0 else {
            throw Invalid(field: "num_key_value_heads", value: "\(numKeyValueHeads)", reason: "num_attention_heads \(numAttentionHeads) is not a multiple of it")
        }
        try check("head_dim", headDim, 2...l.headDim)
        guard headDim % 2 == 0 else { throw Invalid(field: "head_dim", value: "\(headDim)", reason: "rotary embeddings need an even head size") }
        try check("max_position_embeddings", maxPositionEmbeddings, 1...l.context)
        guard rmsNormEps.isFinite, rmsNormEps > 0 else { throw Invalid(field: "rms_norm_eps", value: "\(rmsNormEps)", reason: "must be a positive number") }
        guard ropeTheta.isFinite, ropeTheta > 0 else { throw Invalid(field: "rope_theta", value: "\(ropeTheta)", reason: "must be a positive number") }
        let bytes = parameterCount * 4
        guard bytes <= Double(memoryBytes) else {
            throw Invalid(field: "num_hidden_layers", value: "\(numHiddenLayers)",
                          reason: String(format: "the weights would take %.1f GB as float32, more than this machine's %.1f GB of memory",
                                         bytes / 1e9, Double(memoryBytes) / 1e9))
        }
    }

    /// Parameters this configuration holds (a Double: a hostile config could overflow Int).
    public var parameterCount: Double {
        let h = Double(hiddenSize), q = Double(numAttentionHeads * headDim), kv = Double(numKeyValueHeads * headDim)
        let perLayer = 2 * h + h * q + 2 * h * kv + q * h + 3 * h * Double(intermediateSize)
        return Double(vocabSize) * h * (tieWordEmbeddings ? 1 : 2) + h + Double(numHiddenLayers) * perLayer
    }
}
