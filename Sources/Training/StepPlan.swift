import Tensor

/// Which examples each optimizer step uses, as a pure function of the seed, so a resumed run
/// sees exactly the batches an uninterrupted run would.
///
/// Each epoch shuffles the examples; each step takes `batchSize * gradAccum` of them. To keep
/// padding small, the steps of a window of `bucketWindow` steps are formed from that window's
/// examples sorted by length (the window's steps then run in shuffled order). A step's examples
/// are the same whatever the split into micro-batches, so batch 8 x accumulation 1 and batch 1
/// x accumulation 8 train on the same data.
public struct StepPlan: Sendable {
    public let count: Int
    public let perStep: Int
    public let microBatch: Int
    public let stepsPerEpoch: Int
    public let totalSteps: Int
    let seed: UInt64
    let lengths: [Int]
    let bucketWindow: Int

    public init(lengths: [Int], batchSize: Int, gradAccum: Int, epochs: Double, maxSteps: Int?, seed: UInt64, bucketWindow: Int = 8) {
        precondition(batchSize > 0 && gradAccum > 0, "batch size and accumulation must be positive")
        self.lengths = lengths
        count = lengths.count
        microBatch = batchSize
        perStep = batchSize * gradAccum
        stepsPerEpoch = max(1, count / perStep)
        if let m = maxSteps, m > 0 { totalSteps = m } else { totalSteps = max(1, Int((Double(stepsPerEpoch) * epochs).rounded(.up))) }
        self.seed = seed
        self.bucketWindow = bucketWindow
    }

    /// The plan a trainer with these options follows over examples of these lengths.
    public init(lengths: [Int], options: TrainingOptions) {
        self.init(lengths: lengths, batchSize: options.batchSize, gradAccum: options.gradAccum, epochs: options.epochs,
                  maxSteps: options.maxSteps > 0 ? options.maxSteps : nil, seed: options.seed)
    }

    public func epoch(ofStep step: Int) -> Double { Double(step) / Double(stepsPerEpoch) }

    /// Every example some step trains on, ascending. A run cut short by `maxSteps` visits only
    /// part of the data; DPO's reference log-probs are needed for just these.
    public var visitedExamples: [Int] {
        var seen = [Bool](repeating: false, count: count)
        for step in 0..<totalSteps { for i in microBatches(forStep: step).joined() { seen[i] = true } }
        return seen.indices.filter { seen[$0] }
    }

    /// The example indices of optimizer step `step` (0-based), split into micro-batches.
    public func microBatches(forStep step: Int) -> [[Int]] {
        let e = step / stepsPerEpoch, s = step % stepsPerEpoch
        var rng = SplitMix64(seed: seed &+ UInt64(e) &* 0x9E37_79B9_7F4A_7C15)
        var order = Array(0..<count)
        order.shuffle(using: &rng)
        let windowStart = s / bucketWindow * bucketWindow
        let windowSteps = min(bucketWindow, stepsPerEpoch - windowStart)
        var window = Array(order[(windowStart * perStep)..<((windowStart + windowSteps) * perStep)])
        window.sort { lengths[$0] != lengths[$1] ? lengths[$0] < lengths[$1] : $0 < $1 }
        var stepOrder = Array(0..<windowSteps)
        stepOrder.shuffle(using: &rng)
        let slot = stepOrder[s - windowStart]
        let examples = Array(window[(slot * perStep)..<((slot + 1) * perStep)])
        return stride(from: 0, to: perStep, by: microBatch).map { Array(examples[$0..<min(perStep, $0 + microBatch)]) }
    }
}

/// Learning-rate schedules as transformers defines them: linear warmup from 0, then constant,
/// linear decay to 0, or cosine decay to 0.
public enum LRSchedule: String, Sendable, Codable, CaseIterable {
    case constant, linear, cosine

    public func rate(step: Int, totalSteps: Int, warmupSteps: Int, peak: Double) -> Double {
        if step < warmupSteps { return peak * Double(step) / Double(max(1, warmupSteps)) }
        let progress = Double(step - warmupSteps) / Double(max(1, totalSteps - warmupSteps))
        switch self {
        case .constant: return peak
        case .linear: return peak * max(0, 1 - progress)
        case .cosine: return peak * max(0, 0.5 * (1 + cos(Double.pi * progress)))
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
