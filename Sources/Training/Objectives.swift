import Foundation
import Models
import Tensor

/// What a trainer minimises: how to turn a micro-batch of examples into a loss.
///
/// Losses are normalised per optimizer step, not per micro-batch (`stepNormalizer` over all the
/// step's examples), so gradient accumulation gives the same update as one large batch.
/// What one micro-batch's loss reports: its share of the step's loss (already divided by the
/// step normaliser, so the shares add up to the step's loss), and for preference objectives
/// the sums over its pairs of TRL's per-pair metrics (rewards/chosen, rewards/margins, ...),
/// which the trainer divides by `pairs` when it logs them.
public struct BatchMetrics: Sendable, Equatable {
    public var loss: Double = 0
    public var pairSums: [String: Double] = [:]
    public var pairs = 0
    public init(loss: Double = 0, pairSums: [String: Double] = [:], pairs: Int = 0) { self.loss = loss; self.pairSums = pairSums; self.pairs = pairs }

    public mutating func add(_ other: BatchMetrics) {
        loss += other.loss
        for (k, v) in other.pairSums { pairSums[k, default: 0] += v }
        pairs += other.pairs
    }

    /// The per-pair means (empty without pairs).
    public var pairMeans: [String: Double] { pairs > 0 ? pairSums.mapValues { $0 / Double(pairs) } : [:] }
}

public protocol TrainingObjective {
    var count: Int { get }
    func length(_ index: Int) -> Int
    /// The step-level normaliser: trained tokens (SFT) or pairs (DPO) of these examples.
    func stepNormalizer(_ indices: [Int]) -> Double
    /// The micro-batch's loss (already divided by the step normaliser), its metrics, and the
    /// tokens it processed.
    func loss(model: LlamaModel, indices: [Int], normalizer: Double, stepIndices: [Int]) -> (Variable, BatchMetrics, Int)
}

/// Right-padded token rows and next-token targets (-100 where nothing is trained).
struct PaddedBatch {
    var ids: [Int32] = []
    var targets: [Int32] = []
    var rows = 0
    var time = 0

    /// rows of (ids, trained) with trained[t] saying whether token t is a target.
    init(_ sequences: [([Int], [Bool])], pad: Int32) {
        rows = sequences.count
        time = sequences.map(\.0.count).max() ?? 0
        var labels: [Int32] = []
        for (seq, trained) in sequences {
            ids += seq.map(Int32.init) + [Int32](repeating: pad, count: time - seq.count)
            labels += zip(seq, trained).map { $1 ? Int32($0) : -100 } + [Int32](repeating: -100, count: time - seq.count)
        }
        // The same shift as the inference layer's scoring uses.
        targets = LlamaModel.shiftedTargets(labels: labels, batch: rows, time: time)
    }

    /// The positions with a target (b * time + t, in order) and their targets: the only rows
    /// whose logits a loss needs.
    var trained: (rows: [Int], targets: [Int32]) {
        let rows = targets.indices.filter { targets[$0] >= 0 }
        return (rows, rows.map { targets[$0] })
    }

    /// Each sequence's trained positions: how many of `trained.rows` belong to each row.
    var trainedPerRow: [Int] {
        (0..<rows).map { r in targets[(r * time)..<((r + 1) * time)].filter { $0 >= 0 }.count }
    }

    /// log p(target) of every trained position, [trained.rows.count]: the head runs on
    /// those positions only.
    func trainedLogProbs(_ model: LlamaModel) -> Variable {
        let (positions, kept) = trained
        let logits = model.forward(ids: ids, batch: rows, time: time, outputRows: positions)
        return Ops.gatherLogProbs(logits, targets: kept)
    }
}

/// Supervised fine-tuning: mean negative log-likelihood over the loss-mask tokens.
public struct SFTObjective: TrainingObjective {
    public let examples: [SFTExample]
    let pad: Int32

    public init(examples: [SFTExample], padToken: Int) { self.examples = examples; pad = Int32(padToken) }

    public var count: Int { examples.count }
    public func length(_ i: Int) -> Int { examples[i].tokens }
    public func stepNormalizer(_ indices: [Int]) -> Double {
        Double(indices.map { examples[$0].mask.dropFirst().filter { $0 }.count }.reduce(0, +))
    }

    public func loss(model: LlamaModel, indices: [Int], normalizer: Double, stepIndices: [Int]) -> (Variable, BatchMetrics, Int) {
        let batch = PaddedBatch(indices.map { (examples[$0].ids, examples[$0].mask) }, pad: pad)
        let logp = batch.trainedLogProbs(model).sum()
        let loss = (-1 / Float(normalizer)) * logp
        return (loss, BatchMetrics(loss: Double(loss.value.scalars[0])), indices.map { examples[$0].tokens }.reduce(0, +))
    }
}

/// Direct preference optimization on (prompt, chosen, rejected) with cached reference log-probs.
public struct DPOObjective: TrainingObjective {
    public let examples: [PreferenceExample]
    public let config: DPOLossConfig
    /// Reference log-probs: chosen then rejected per example, [2 * count].
    public let reference: [Float]
    let pad: Int32

    public init(examples: [PreferenceExample], config: DPOLossConfig, reference: [Float], padToken: Int) {
        precondition(reference.count == 2 * examples.count, "reference log-probs for \(reference.count / 2) pairs, \(examples.count) examples")
        self.examples = examples; self.config = config; self.reference = reference; pad = Int32(padToken)
    }

    public var count: Int { examples.count }
    public func length(_ i: Int) -> Int { examples[i].tokens }
    public func stepNormalizer(_ indices: [Int]) -> Double { Double(indices.count) }

    /// Rows for a micro-batch: prompt + chosen for each pair, then prompt + rejected.
    static func rows(_ examples: [PreferenceExample], _ indices: [Int]) -> [([Int], [Bool])] {
        func row(_ e: PreferenceExample, _ c: [Int]) -> ([Int], [Bool]) {
            (e.prompt + c, [Bool](repeating: false, count: e.prompt.count) + [Bool](repeating: true, count: c.count))
        }
        return indices.map { row(examples[$0], examples[$0].chosen) } + indices.map { row(examples[$0], examples[$0].rejected) }
    }

    /// Summed completion log-probs of the micro-batch's rows (chosen rows, then rejected).
    static func logps(model: LlamaModel, examples: [PreferenceExample], indices: [Int], pad: Int32) -> Variable {
        let batch = PaddedBatch(rows(examples, indices), pad: pad)
        return batch.trainedLogProbs(model).segmentSums(batch.trainedPerRow)
    }

    public func loss(model: LlamaModel, indices: [Int], normalizer: Double, stepIndices: [Int]) -> (Variable, BatchMetrics, Int) {
        let lp = Self.logps(model: model, examples: examples, indices: indices, pad: pad)
        let ref = indices.map { reference[2 * $0] } + indices.map { reference[2 * $0 + 1] }
        let chosenTokensInStep = stepIndices.map { examples[$0].chosen.count }.reduce(0, +)
        let (loss, stats) = config.loss(logps: lp, reference: ref, chosenTokens: indices.map { examples[$0].chosen.count },
                                        rejectedTokens: indices.map { examples[$0].rejected.count },
                                        pairsInStep: Int(normalizer), chosenTokensInStep: chosenTokensInStep)
        let metrics = BatchMetrics(loss: stats.loss, pairSums: stats.metrics.mapValues { $0 * Double(stats.pairs) }, pairs: stats.pairs)
        return (loss, metrics, indices.map { examples[$0].prompt.count * 2 + examples[$0].chosen.count + examples[$0].rejected.count }.reduce(0, +))
    }

    /// Reference log-probs of the pairs in `needed` (all when nil), computed once without
    /// gradients (the caller turns adapters off, or passes the untouched model); pairs no step
    /// visits stay NaN, so a wrong plan shows as a NaN loss rather than a silent zero.
    /// Cached in `cacheFile` under `fingerprint`.
    public static func referenceLogps(model: LlamaModel, examples: [PreferenceExample], needed: [Int]? = nil, padToken: Int, batchSize: Int,
                                      cacheFile: URL?, fingerprint: String, progress: (Int, Int) -> Void = { _, _ in }) throws -> [Float] {
        let needed = needed ?? Array(examples.indices)
        let fingerprint = fingerprint + "-\(needed.count)-\(needed.reduce(0) { $0 &* 31 &+ $1 })"
        if let cacheFile, let f = try? SafeTensorsFile(path: cacheFile.path), f.metadata["fingerprint"] == fingerprint,
           let t = try? f.tensor("reference_logps"), t.count == 2 * examples.count {
            return t.scalars
        }
        var out = [Float](repeating: .nan, count: 2 * examples.count)
        let order = needed.sorted { examples[$0].tokens < examples[$1].tokens }
        let batches = stride(from: 0, to: order.count, by: batchSize).map { Array(order[$0..<min(order.count, $0 + batchSize)]) }
        // Neighbouring batches (of similar lengths) run side by side, one lane per core.
        let lanes = Parallel.laneCount(items: batches.count)
        var done = 0
        for round in stride(from: 0, to: batches.count, by: lanes) {
            let group = Array(batches[round..<min(batches.count, round + lanes)])
            out.withUnsafeMutableBufferPointer { out in
                Parallel.lanes(group.count) { lane in
                    let idx = group[lane]
                    let lp = GradMode.withNoGrad { logps(model: model, examples: examples, indices: idx, pad: Int32(padToken)) }.value.scalars
                    for (j, i) in idx.enumerated() { out[2 * i] = lp[j]; out[2 * i + 1] = lp[idx.count + j] }
                }
            }
            done += group.reduce(0) { $0 + $1.count }
            progress(done, order.count)
        }
        if let cacheFile {
            try SafeTensorsFile.write(["reference_logps": Tensor(out, shape: [out.count])], to: cacheFile.path, metadata: ["fingerprint": fingerprint])
        }
        return out
    }
}
