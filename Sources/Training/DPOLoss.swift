import Tensor

/// Direct preference optimization losses (Rafailov et al. 2023) as TRL computes them.
///
/// With h = (log pi(y_w) - log ref(y_w)) - (log pi(y_l) - log ref(y_l)) per pair:
///   sigmoid (default): -(1 - eps) log sigmoid(beta h) - eps log sigmoid(-beta h)
///                      (eps = label_smoothing: conservative DPO; 0 is plain DPO)
///   ipo:               (h - 1 / (2 beta))^2
/// plus, when rpo_alpha > 0, rpo_alpha times the NLL of the chosen tokens.
public struct DPOLossConfig: Sendable, Codable, Equatable {
    public enum LossType: String, Sendable, Codable, CaseIterable { case sigmoid, ipo }
    public var beta: Double = 0.1
    public var lossType: LossType = .sigmoid
    public var labelSmoothing: Double = 0
    public var rpoAlpha: Double = 0
    public init(beta: Double = 0.1, lossType: LossType = .sigmoid, labelSmoothing: Double = 0, rpoAlpha: Double = 0) {
        self.beta = beta; self.lossType = lossType; self.labelSmoothing = labelSmoothing; self.rpoAlpha = rpoAlpha
    }

    /// Per-pair losses and d loss / d h for margins h.
    public func losses(_ h: [Double]) -> (loss: [Double], dh: [Double]) {
        var loss: [Double] = [], dh: [Double] = []
        for x in h {
            switch lossType {
            case .sigmoid:
                let z = beta * x, e = labelSmoothing
                loss.append(-(1 - e) * logSigmoid(z) - e * logSigmoid(-z))
                dh.append(beta * (-(1 - e) * sigmoid(-z) + e * sigmoid(z)))
            case .ipo:
                let d = x - 1 / (2 * beta)
                loss.append(d * d)
                dh.append(2 * d)
            }
        }
        return (loss, dh)
    }
}

@inline(__always) func sigmoid(_ x: Double) -> Double { x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x)) }
@inline(__always) func logSigmoid(_ x: Double) -> Double { x >= 0 ? -log1p(exp(-x)) : x - log1p(exp(x)) }

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
    public func loss(logps: Variable, reference: [Float], chosenTokens: [Int], pairsInStep: Int, chosenTokensInStep: Int) -> (Variable, DPOBatchStats) {
        let v = logps.value.scalars.map(Double.init)
        let b = v.count / 2
        precondition(v.count == 2 * b && reference.count == v.count, "DPO needs chosen and rejected log-probs for each pair")
        var h: [Double] = [], stats = DPOBatchStats()
        for i in 0..<b {
            let rc = v[i] - Double(reference[i]), rr = v[b + i] - Double(reference[b + i])
            h.append(rc - rr)
            stats.rewardsChosen += beta * rc
            stats.rewardsRejected += beta * rr
            stats.accuracy += rc > rr ? 1 : 0
            stats.margin += beta * (rc - rr)
            stats.logpsChosen += v[i]
            stats.logpsRejected += v[b + i]
        }
        let (perPair, dh) = losses(h)
        let nll = rpoAlpha > 0 ? -(0..<b).map { v[$0] }.reduce(0, +) / Double(max(chosenTokensInStep, 1)) : 0
        let total = perPair.reduce(0, +) / Double(pairsInStep) + rpoAlpha * nll
        stats.loss = total
        stats.pairs = b
        let n = Double(pairsInStep), alpha = rpoAlpha, tokens = Double(max(chosenTokensInStep, 1))
        let out = Variable(result: Tensor([Float(total)], shape: []), parents: [logps]) { [unowned logps] g in
            let s = Double(g.data[0])
            var grad = [Float](repeating: 0, count: 2 * b)
            for i in 0..<b {
                grad[i] = Float(s * (dh[i] / n - alpha / tokens))
                grad[b + i] = Float(s * (-dh[i] / n))
            }
            logps.accumulateGrad(Tensor(grad, shape: [2 * b]), owned: true)
        }
        return (out, stats)
    }
}

#if canImport(Glibc)
import Glibc
#endif
