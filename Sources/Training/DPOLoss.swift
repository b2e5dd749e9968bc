import Tensor

/// Direct preference optimization losses (Rafailov et al. 2023) as TRL 1.x computes them, a
/// weighted sum of terms (TRL's `loss_type` list with `loss_weights`).
///
/// Per pair, with log-ratios rc = log pi(y_w) - log ref(y_w), rr = log pi(y_l) - log ref(y_l),
/// h = rc - rr, completion lengths nc, nr, and eps = label_smoothing:
///   sigmoid (default): -(1 - eps) log sigmoid(beta h) - eps log sigmoid(-beta h)
///                      (eps > 0: conservative DPO; TRL 1.x's sigmoid has no eps)
///   hinge:             max(0, 1 - beta h)
///   ipo:               (rc / nc - rr / nr - 1 / (2 beta))^2  (TRL 1.x: per-token log-ratios)
///   robust:            (-(1 - eps) log sigmoid(beta h) + eps log sigmoid(-beta h)) / (1 - 2 eps)
///   sigmoid_norm:      -log sigmoid(beta (rc / nc - rr / nr))
///   apo_zero:          (1 - sigmoid(beta rc)) + sigmoid(beta rr)
/// each averaged over the step's pairs; sft: the mean NLL of the step's chosen tokens. TRL's
/// older `rpo_alpha` is an sft term of that weight.
public struct DPOLossConfig: Sendable, Codable, Equatable {
    public enum LossType: String, Sendable, Codable, CaseIterable {
        case sigmoid, hinge, ipo, robust, sigmoidNorm = "sigmoid_norm", apoZero = "apo_zero", sft
    }
    public var beta: Double = 0.1
    public var lossTypes: [LossType] = [.sigmoid]
    /// One weight per loss type (TRL's loss_weights); empty: 1 for each.
    public var lossWeights: [Double] = []
    public var labelSmoothing: Double = 0
    public var rpoAlpha: Double = 0

    public init(beta: Double = 0.1, lossType: LossType = .sigmoid, labelSmoothing: Double = 0, rpoAlpha: Double = 0) {
        self.init(beta: beta, lossTypes: [lossType], labelSmoothing: labelSmoothing, rpoAlpha: rpoAlpha)
    }

    public init(beta: Double, lossTypes: [LossType], lossWeights: [Double] = [], labelSmoothing: Double = 0, rpoAlpha: Double = 0) {
        self.beta = beta; self.lossTypes = lossTypes; self.lossWeights = lossWeights; self.labelSmoothing = labelSmoothing; self.rpoAlpha = rpoAlpha
    }

    /// The terms with their weights; rpo_alpha adds to the sft term.
    public var terms: [(type: LossType, weight: Double)] {
        var out = lossTypes.enumerated().map { ($0.element, lossWeights.isEmpty ? 1 : lossWeights[$0.offset]) }
        if rpoAlpha > 0 {
            if let i = out.firstIndex(where: { $0.0 == .sft }) { out[i].1 += rpoAlpha } else { out.append((.sft, rpoAlpha)) }
        }
        return out
    }

    /// One pair's loss of a per-pair term and its derivatives by rc and rr.
    func pairLoss(_ type: LossType, rc: Double, rr: Double, nc: Double, nr: Double) -> (loss: Double, drc: Double, drr: Double) {
        let b = beta, e = labelSmoothing
        switch type {
        case .sigmoid:
            let z = b * (rc - rr)
            let d = b * (-(1 - e) * sigmoid(-z) + e * sigmoid(z))
            return (-(1 - e) * logSigmoid(z) - e * logSigmoid(-z), d, -d)
        case .hinge:
            let m = 1 - b * (rc - rr)
            return m > 0 ? (m, -b, b) : (0, 0, 0)
        case .ipo:
            let d = rc / nc - rr / nr - 1 / (2 * b)
            return (d * d, 2 * d / nc, -2 * d / nr)
        case .robust:
            let z = b * (rc - rr)
            let d = b * (-(1 - e) * sigmoid(-z) - e * sigmoid(z)) / (1 - 2 * e)
            return ((-(1 - e) * logSigmoid(z) + e * logSigmoid(-z)) / (1 - 2 * e), d, -d)
        case .sigmoidNorm:
            let z = b * (rc / nc - rr / nr)
            let d = -b * sigmoid(-z)
            return (-logSigmoid(z), d / nc, -d / nr)
        case .apoZero:
            let sc = sigmoid(b * rc), sr = sigmoid(b * rr)
            return ((1 - sc) + sr, -b * sc * (1 - sc), b * sr * (1 - sr))
        case .sft:
            return (0, 0, 0)  // not per pair: `loss` adds it over the step's chosen tokens
        }
    }

    /// Per-pair losses and d loss / d h for margins h, read as rc = h, rr = 0 and unit lengths:
    /// exact for the terms of h alone (sigmoid, hinge, robust; ipo and sigmoid_norm at unit
    /// lengths); apo_zero and sft depend on more, which only `loss` has.
    public func losses(_ h: [Double]) -> (loss: [Double], dh: [Double]) {
        var loss: [Double] = [], dh: [Double] = []
        for x in h {
            var l = 0.0, d = 0.0
            for (type, w) in terms where type != .sft {
                let p = pairLoss(type, rc: x, rr: 0, nc: 1, nr: 1)
                l += w * p.loss; d += w * p.drc
            }
            loss.append(l); dh.append(d)
        }
        return (loss, dh)
    }
}

@inline(__always) func sigmoid(_ x: Double) -> Double { x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x)) }
@inline(__always) func logSigmoid(_ x: Double) -> Double { x >= 0 ? -log1p(exp(-x)) : x - log1p(exp(x)) }

/// TRL's `loss_type`: one loss name or a list of them (combined with `loss_weights`). One
/// name is written as a string, as before lists existed.
public struct DPOLossTypes: Codable, Sendable, Equatable {
    public var types: [DPOLossConfig.LossType]

    public init(_ types: [DPOLossConfig.LossType]) { self.types = types }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        let names: [String]
        if let one = try? c.decode(String.self) { names = [one] } else { names = try c.decode([String].self) }
        types = try names.map { name in
            guard let t = DPOLossConfig.LossType(rawValue: name) else {
                throw DecodingError.dataCorruptedError(in: c, debugDescription: "unknown loss type '\(name)' (known: \(DPOLossConfig.LossType.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            return t
        }
        guard !types.isEmpty else { throw DecodingError.dataCorruptedError(in: c, debugDescription: "loss_type is an empty list") }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        if types.count == 1 { try c.encode(types[0].rawValue) } else { try c.encode(types.map(\.rawValue)) }
    }
}

/// The metrics TRL logs for a DPO batch.
public struct DPOBatchStats: Sendable {
    public var loss = 0.0, rewardsChosen = 0.0, rewardsRejected = 0.0, accuracy = 0.0, margin = 0.0, logpsChosen = 0.0, logpsRejected = 0.0, pairs = 0

    mutating func add(_ o: DPOBatchStats) {
        loss += o.loss; rewardsChosen += o.rewardsChosen; rewardsRejected += o.rewardsRejected; accuracy += o.accuracy
        margin += o.margin; logpsChosen += o.logpsChosen; logpsRejected += o.logpsRejected; pairs += o.pairs
    }

    /// Means per pair, under TRL's metric names.
    public var metrics: [String: Double] {
        let n = Double(max(pairs, 1))
        return ["rewards/chosen": rewardsChosen / n, "rewards/rejected": rewardsRejected / n, "rewards/accuracies": accuracy / n,
                "rewards/margins": margin / n, "logps/chosen": logpsChosen / n, "logps/rejected": logpsRejected / n]
    }
}

extension DPOLossConfig {
    /// The loss of a micro-batch as a scalar variable, divided by `pairsInStep` so that the
    /// micro-batches of one optimizer step add up to the step's mean.
    /// logps [2B]: summed completion log-probs, chosen rows first then rejected rows;
    /// reference [2B] in the same layout; chosenTokens: completion tokens of each chosen row.
    public func loss(logps: Variable, reference: [Float], chosenTokens: [Int], rejectedTokens: [Int]? = nil, pairsInStep: Int,
                     chosenTokensInStep: Int) -> (Variable, DPOBatchStats) {
        let v = logps.value.scalars.map(Double.init)
        let b = v.count / 2
        precondition(v.count == 2 * b && reference.count == v.count, "DPO needs chosen and rejected log-probs for each pair")
        let rejectedTokens = rejectedTokens ?? chosenTokens
        var stats = DPOBatchStats()
        var total = 0.0
        let n = Double(pairsInStep), tokens = Double(max(chosenTokensInStep, 1))
        var grad = [Double](repeating: 0, count: 2 * b)
        for i in 0..<b {
            let rc = v[i] - Double(reference[i]), rr = v[b + i] - Double(reference[b + i])
            stats.rewardsChosen += beta * rc
            stats.rewardsRejected += beta * rr
            stats.accuracy += rc > rr ? 1 : 0
            stats.margin += beta * (rc - rr)
            stats.logpsChosen += v[i]
            stats.logpsRejected += v[b + i]
            for (type, w) in terms {
                if type == .sft {
                    total += w * -v[i] / tokens
                    grad[i] += -w / tokens
                    continue
                }
                let p = pairLoss(type, rc: rc, rr: rr, nc: Double(max(chosenTokens[i], 1)), nr: Double(max(rejectedTokens[i], 1)))
                total += w * p.loss / n
                grad[i] += w * p.drc / n
                grad[b + i] += w * p.drr / n
            }
        }
        stats.loss = total
        stats.pairs = b
        let out = Variable(result: Tensor([Float(total)], shape: []), parents: [logps]) { [unowned logps] g in
            let s = Double(g.data[0])
            logps.accumulateGrad(Tensor(grad.map { Float(s * $0) }, shape: [2 * b]), owned: true)
        }
        return (out, stats)
    }
}

#if canImport(Glibc)
import Glibc
#endif
