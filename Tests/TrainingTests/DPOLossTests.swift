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

    /// IPO: (h - 1/(2 beta))^2; conservative DPO: -(1-e) logsig(bh) - e logsig(-bh).
    @Test func ipoAndLabelSmoothing() {
        let ipo = DPOLossConfig(beta: 0.5, lossType: .ipo).losses([0, 1, 3]).loss
        #expect(ipo == [1, 0, 4])
        let c = DPOLossConfig(beta: 1, labelSmoothing: 0.2).losses([2]).loss[0]
        #expect(abs(c - (0.8 * log1p(exp(-2.0)) + 0.2 * log1p(exp(2.0)))) < 1e-12)
    }

    @Test(arguments: [DPOLossConfig(beta: 0.1), DPOLossConfig(beta: 0.3, lossType: .ipo), DPOLossConfig(beta: 0.2, labelSmoothing: 0.1, rpoAlpha: 0.5)])
    func gradientMatchesFiniteDifferences(config: DPOLossConfig) {
        let values: [Float] = [-3.1, -7.4, -2.2, -5.0, -6.3, -1.9]
        let reference: [Float] = [-3.0, -7.0, -2.5, -4.0, -6.0, -2.0]
        func f(_ v: [Float]) -> Double {
            Double(config.loss(logps: Variable(Tensor(v, shape: [6])), reference: reference, chosenTokens: [2, 3, 4], pairsInStep: 3, chosenTokensInStep: 9).0.value.scalars[0])
        }
        let x = Variable(Tensor(values, shape: [6]), requiresGrad: true)
        config.loss(logps: x, reference: reference, chosenTokens: [2, 3, 4], pairsInStep: 3, chosenTokensInStep: 9).0.backward()
        let g = x.grad!.scalars
        for i in 0..<6 {
            var plus = values, minus = values
            plus[i] += 1e-2; minus[i] -= 1e-2
            let numeric = (f(plus) - f(minus)) / 2e-2
            #expect(abs(numeric - Double(g[i])) < 1e-3, "element \(i): \(numeric) vs \(g[i])")
        }
    }
}
