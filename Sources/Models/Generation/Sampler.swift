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

    public init(_ parameters: SamplingParameters, stream: UInt64 = 0) {
        self.parameters = parameters
        rng = SplitMix64(seed: parameters.seed &+ stream &* 0x9E37_79B9_7F4A_7C15)
    }

    public mutating func sample(_ logits: UnsafePointer<Float>, count v: Int) -> Int {
        if parameters.temperature <= 0 {
            var best = 0
            for i in 1..<v where logits[i] > logits[best] { best = i }
            return best
        }
        var candidates = Array(0..<v)
        if parameters.topK > 0 && parameters.topK < v {
            candidates.sort { logits[$0] > logits[$1] }
            candidates.removeLast(v - parameters.topK)
        }
        let t = parameters.temperature
        let m = candidates.map { logits[$0] }.max() ?? 0
        var probs = candidates.map { Double(SIMDMath.scalarExp((logits[$0] - m) / t)) }
        let total = probs.reduce(0, +)
        probs = probs.map { $0 / total }
        if parameters.topP < 1 {
            let order = probs.indices.sorted { probs[$0] > probs[$1] }
            var kept: [Int] = [], mass = 0.0
            for i in order {
                kept.append(i)
                mass += probs[i]
                if mass >= Double(parameters.topP) { break }
            }
            candidates = kept.map { candidates[$0] }
            probs = kept.map { probs[$0] / mass }
        }
        var u = Double(rng.nextFloat())
        for (i, p) in probs.enumerated() {
            u -= p
            if u < 0 { return candidates[i] }
        }
        return candidates[candidates.count - 1]
    }
}
