import Foundation
import Testing
@testable import Tensor
@testable import Training

@Suite struct DPOLossTests {
    /// torchtune's DPO loss test vector: policy chosen [-0.5, -10, -1], policy rejected
    /// [-0.1, -30, -21], reference chosen [-0.5, -10.1, -0.1], reference rejected
    /// [-0.1, -20.1, -0.1], beta 0.1 -> [0.693147, 0.313262, 0.126928]. Mirrors
    /// -F.logsigmoid(beta * ((pc - rc) - (pr - rr))).
    @Test func sigmoidLossMatchesTorchtune() {
        let pc: [Double] = [-0.5, -10, -1], pr: [Double] = [-0.1, -30, -21], rc: [Double] = [-0.5, -10.1, -0.1], rr: [Double] = [-0.1, -20.1, -0.1]
        let h = (0..<3).map { (pc[$0] - rc[$0]) - (pr[$0] - rr[$0]) }
        let (loss, _) = DPOLossConfig(beta: 0.1).losses(h)
        for (got, expected) in zip(loss, [0.693147, 0.313262, 0.126928]) { #expect(abs(got - expected) < 1e-6) }
        // The same through the differentiable op (mean over the three pairs).
        let logps = Variable(Tensor((pc + pr).map(Float.init), shape: [6]), requiresGrad: true)
        let (op, stats) = DPOLossConfig(beta: 0.1).loss(logps: logps, reference: (rc + rr).map(Float.init), chosenTokens: [1, 1, 1], pairsInStep: 3, chosenTokensInStep: 3)
        #expect(abs(Double(op.value.scalars[0]) - (0.693147 + 0.313262 + 0.126928) / 3) < 1e-6)
        #expect(stats.accuracy == 2)
    }

    /// IPO, as TRL 1.x: (rc / nc - rr / nr - 1/(2 beta))^2 on per-token log-ratios (for unit
    /// lengths, (h - 1/(2 beta))^2); conservative DPO: -(1-e) logsig(bh) - e logsig(-bh).
    @Test func ipoAndLabelSmoothing() {
        let ipo = DPOLossConfig(beta: 0.5, lossType: .ipo).losses([0, 1, 3]).loss
        #expect(ipo == [1, 0, 4])
        let perToken = DPOLossConfig(beta: 0.5, lossType: .ipo).pairLoss(.ipo, rc: 4, rr: -2, nc: 4, nr: 2).loss
        #expect(perToken == 1)  // (4/4 - (-2)/2 - 1)^2
        let c = DPOLossConfig(beta: 1, labelSmoothing: 0.2).losses([2]).loss[0]
        #expect(abs(c - (0.8 * log1p(exp(-2.0)) + 0.2 * log1p(exp(2.0)))) < 1e-12)
    }

    @Test(arguments: [DPOLossConfig(beta: 0.1), DPOLossConfig(beta: 0.3, lossType: .ipo), DPOLossConfig(beta: 0.2, labelSmoothing: 0.1, rpoAlpha: 0.5),
                      DPOLossConfig(beta: 0.2, lossTypes: [.robust, .sigmoidNorm, .apoZero, .hinge, .sft], lossWeights: [1, 0.5, 2, 0.3, 0.7], labelSmoothing: 0.1)])
    func gradientMatchesFiniteDifferences(config: DPOLossConfig) {
        let values: [Float] = [-3.1, -7.4, -2.2, -5.0, -6.3, -1.9]
        let reference: [Float] = [-3.0, -7.0, -2.5, -4.0, -6.0, -2.0]
        func f(_ v: [Float]) -> Double {
            Double(config.loss(logps: Variable(Tensor(v, shape: [6])), reference: reference, chosenTokens: [2, 3, 4], rejectedTokens: [5, 1, 3],
                               pairsInStep: 3, chosenTokensInStep: 9).0.value.scalars[0])
        }
        let x = Variable(Tensor(values, shape: [6]), requiresGrad: true)
        config.loss(logps: x, reference: reference, chosenTokens: [2, 3, 4], rejectedTokens: [5, 1, 3], pairsInStep: 3, chosenTokensInStep: 9).0.backward()
        let g = x.grad!.scalars
        for i in 0..<6 {
            var plus = values, minus = values
            plus[i] += 1e-2; minus[i] -= 1e-2
            let numeric = (f(plus) - f(minus)) / 2e-2
            #expect(abs(numeric - Double(g[i])) < 1e-3, "element \(i): \(numeric) vs \(g[i])")
        }
    }

    /// Each loss type and two TRL 1.x lists (loss_type with loss_weights) against TRL's own
    /// DPOTrainer._compute_loss on the same log-probs: the loss and its gradient by each
    /// sequence's log-prob (scripts/golden/make_dpo_loss_golden.py).
    @Test func lossesMatchTRL() throws {
        struct Case: Decodable {
            var name: String
            var loss_type: [String]
            var loss_weights: [Double]
            var beta: Double
            var label_smoothing: Double
            var logps: [Double]
            var reference: [Double]
            var chosen_tokens: [Int]
            var rejected_tokens: [Int]
            var loss: Double
            var dlogps: [Double]
        }
        struct File: Decodable { var cases: [Case] }
        let url = try #require(Bundle.module.url(forResource: "Golden/dpo_losses", withExtension: "json"))
        let file = try JSONDecoder().decode(File.self, from: Data(contentsOf: url))
        #expect(file.cases.count == 8)
        for c in file.cases {
            let types = try c.loss_type.map { try #require(DPOLossConfig.LossType(rawValue: $0)) }
            let config = DPOLossConfig(beta: c.beta, lossTypes: types, lossWeights: c.loss_weights, labelSmoothing: c.label_smoothing)
            let x = Variable(Tensor(c.logps.map(Float.init), shape: [c.logps.count]), requiresGrad: true)
            let (loss, _) = config.loss(logps: x, reference: c.reference.map(Float.init), chosenTokens: c.chosen_tokens, rejectedTokens: c.rejected_tokens,
                                        pairsInStep: c.chosen_tokens.count, chosenTokensInStep: c.chosen_tokens.reduce(0, +))
            loss.backward()
            #expect(abs(Double(loss.value.scalars[0]) - c.loss) < 1e-5 * max(1, abs(c.loss)), "\(c.name): \(loss.value.scalars[0]) vs \(c.loss)")
            for (got, want) in zip(x.grad!.scalars, c.dlogps) {
                #expect(abs(Double(got) - want) < 1e-5 * max(1, abs(want)), "\(c.name): gradient \(got) vs \(want)")
            }
        }
    }

    /// TRL 1.x's forms in a config file or on the command line: a list of losses with weights,
    /// one name as a string (written back the same, so existing settings keep their
    /// fingerprint), and clear errors.
    @Test func lossTypeListsReadAsTRLWritesThem() throws {
        let one = try JSONDecoder().decode(DPOLossTypes.self, from: Data(#""ipo""#.utf8))
        let written = String(decoding: try JSONEncoder().encode(one), as: UTF8.self)
        #expect(one.types == [.ipo] && written == #""ipo""#)
        let list = try JSONDecoder().decode(DPOLossTypes.self, from: Data(#"["sigmoid", "sft"]"#.utf8))
        #expect(list.types == [.sigmoid, .sft])
        do { _ = try JSONDecoder().decode(DPOLossTypes.self, from: Data(#"["sigmoid", "kto"]"#.utf8)); Issue.record("kto accepted") } catch {
            #expect("\(error)".contains("unknown loss type 'kto'") && "\(error)".contains("apo_zero"))
        }
        var o = TrainingOptions()
        o.lossType = list; o.lossWeights = [1]
        #expect(throws: TrainingError.self) { try o.validate() }
        o.lossWeights = [1, 0.5]; o.rpoAlpha = 0.25
        try o.validate()
        // rpo_alpha adds to the list's sft weight, as TRL 1.x turned rpo_alpha into an sft term.
        #expect(o.dpo.terms.map(\.type) == [.sigmoid, .sft] && o.dpo.terms.map(\.weight) == [1, 0.75])
    }
}
