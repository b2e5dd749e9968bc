import Tensor

/// How the next token is chosen from the logits.
public struct SamplingParameters: Sendable, Codable, Equatable {
    /// 0 means greedy (argmax).
    public var temperature: Float = 0.7
    /// Keep only the k most likely tokens (0: all).
    public var topK: Int = 0
    /// Keep the smallest set of most likely tokens whose probability reaches p (1: all).
    public var topP: Float = 1
    public var seed: UInt64 = 0

    public init(temperature: Float = 0.7, topK: Int = 0, topP: Float = 1, seed: UInt64 = 0) {
        self.temperature = temperature; self.topK = topK; self.topP = topP; self.seed = seed
    }

    public static let greedy = SamplingParameters(temperature: 0)
}

/// Picks tokens for one sequence; its random state belongs to that sequence, so a batch gives
/// each row the same tokens it would get alone with the same seed.
public struct Sampler {
    public let parameters: SamplingParameters
    var rng: SplitMix64

    public init(_ parameters: SamplingParameters) {
        self.parameters = parameters
        rng = SplitMix64(seed: parameters.seed)
    }

    public mutating func sample(_ logits: UnsafePointer<Float>, count v: Int) -> Int {
        if parameters.temperature <= 0 {
            var best = 0
            for i in 1..<v where logits[i] > logits[best] { best = i }
            return best
        }
        let (tokens, probabilities) = Self.distribution(logits, count: v, parameters: parameters)
        var u = Double(rng.nextFloat())
        for (i, p) in probabilities.enumerated() {
            u -= p
            if u < 0 { return tokens[i] }
        }
        return tokens[tokens.count - 1]
    }

    /// The tokens a draw chooses among and their probabilities (summing to 1), for a positive
    /// temperature: the top-k most likely tokens (by logit, descending), then of those the
    /// nucleus, the most likely whose probability reaches top-p (descending); without either
    /// filter, every token in index order.
    ///
    /// Ordering all of a 49k-token vocabulary for every row of every step would cost more than
    /// the model's forward pass at batch 16, so only the tokens within `spread` of the best
    /// (in temperature-scaled logits) are sorted, widening the spread until they hold the top
    /// k or the top-p mass. They are the most likely tokens, so their order is the start of
    /// the full order: the result is the same as sorting everything.
    static func distribution(_ logits: UnsafePointer<Float>, count v: Int, parameters: SamplingParameters) -> (tokens: [Int], probabilities: [Double]) {
        let t = parameters.temperature
        let m = SIMDMath.max(logits, v)
        // Weights exp((l - m) / t) of every token.
        var weights = [Float](repeating: 0, count: v)
        weights.withUnsafeMutableBufferPointer { w in
            let vm = Vec8(repeating: m), vt = Vec8(repeating: t)
            var i = 0
            while i + 8 <= v { SIMDMath.store(SIMDMath.exp((SIMDMath.load(logits + i) - vm) / vt), w.baseAddress! + i); i += 8 }
            while i < v { w[i] = SIMDMath.scalarExp((logits[i] - m) / t); i += 1 }
        }
        func descending(_ tokens: [Int]) -> [Int] { tokens.sorted { logits[$0] != logits[$1] ? logits[$0] > logits[$1] : $0 < $1 } }
        func within(_ spread: Float) -> [Int] {
            spread.isInfinite ? Array(0..<v) : (0..<v).filter { (logits[$0] - m) / t >= -spread }
        }
        let spreads: [Float] = [8, 16, 32, 64, .infinity]

        var tokens: [Int]? = nil   // nil: every token, in index order
        if parameters.topK > 0 && parameters.topK < v {
            for spread in spreads {
                let near = within(spread)
                if near.count >= parameters.topK || spread.isInfinite { tokens = Array(descending(near).prefix(parameters.topK)); break }
            }
        }
        let candidates = tokens ?? Array(0..<v)
        let total = candidates.reduce(0.0) { $0 + Double(weights[$1]) }
        guard parameters.topP < 1 else { return (candidates, candidates.map { Double(weights[$0]) / total }) }
        // The nucleus: walk the tokens in descending order until their mass reaches top-p.
        func nucleus(_ ordered: [Int]) -> (tokens: [Int], probabilities: [Double])? {
            var kept: [Int] = [], probs: [Double] = [], mass = 0.0
            for i in ordered {
                let p = Double(weights[i]) / total
                kept.append(i); probs.append(p); mass += p
                if mass >= Double(parameters.topP) { return (kept, probs.map { $0 / mass }) }
            }
            return nil
        }
        if let tokens { return nucleus(tokens) ?? (tokens, tokens.map { Double(weights[$0]) / total }) }
        for spread in spreads {
            let ordered = descending(within(spread))
            if let found = nucleus(ordered) { return found }
            if spread.isInfinite { return (ordered, ordered.map { Double(weights[$0]) / total }) }
        }
        fatalError("unreachable: the last spread holds every token")
    }
}
