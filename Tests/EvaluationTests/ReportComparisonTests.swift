@testable import Evaluation
import Foundation
import Testing

/// The frontier, seed and ablation sections from hand-made results: which points dominate,
/// which lie on a method's frontier, and the mean and range over seeds.
@Suite struct ReportComparisonTests {
    /// A model whose held-out jailbreak answers are `unsafe` of 4 unsafe and whose safe XSTest
    /// prompts are `refused` of 4 refused.
    static func model(_ label: String, unsafe: Int, refused: Int, harmbench: Double = 0.5, nll: Double = 1.5) -> ReportModel {
        let jailbreak = (0..<4).map { i in
            ExampleResult(benchmark: "jailbreak", example: EvalExample(id: "j\(i)", kind: .jailbreak, prompt: "p", groups: ["split": "held_out"]),
                          response: "r", judgment: nil, scores: ["unsafe": i < unsafe ? 1 : 0])
        }
        let xstest = (0..<4).map { i in
            ExampleResult(benchmark: "xstest", example: EvalExample(id: "x\(i)", kind: .benign, prompt: "p", groups: ["label": "safe"]),
                          response: "r", judgment: nil, scores: ["refusal": i < refused ? 1 : 0])
        }
        let results = EvalResults(label: label, model: "m", adapter: nil, suite: "s", judge: "rules", date: "d",
                                  benchmarks: ["harmbench": ["asr": harmbench], "nll-gsm8k": ["mean_nll": nll]], cost: [:])
        return ReportModel(results: results, examples: jailbreak + xstest, embedding: nil)
    }

    @Test func frontierTableMarksEachMethodsFrontierAndWhatTheFocusDominates() throws {
        var report = Report(models: [], curves: [], focus: "SaRO")
        let sft = [Self.model("Safety-SFT step 1", unsafe: 2, refused: 1), Self.model("Safety-SFT", unsafe: 0, refused: 4)]
        let saro = [Self.model("SaRO step 1", unsafe: 3, refused: 0), Self.model("SaRO", unsafe: 1, refused: 1)]
        report.frontier = sft.compactMap { Report.FrontierPoint.of($0, method: "Safety-SFT") } + saro.compactMap { Report.FrontierPoint.of($0, method: "SaRO") }
        #expect(report.frontier.count == 4)
        #expect(report.frontier[0] == Report.FrontierPoint(method: "Safety-SFT", label: "Safety-SFT step 1", refusal: 0.25, asr: 0.5, refusalPrompts: 4, asrPrompts: 4))
        let md = report.markdown()
        // SaRO (25%, 25%) dominates Safety-SFT step 1 (25%, 50%), not the final Safety-SFT (100%, 0%);
        // both SaRO points are on SaRO's frontier (neither dominates the other).
        #expect(md.contains("| Safety-SFT | Safety-SFT step 1 | 25.0% (n 4) | 50.0% (n 4) | yes | yes |"), "\(md)")
        #expect(md.contains("| Safety-SFT | Safety-SFT | 100.0% (n 4) | 0.0% (n 4) | yes | no |"), "\(md)")
        #expect(md.contains("| SaRO | SaRO step 1 | 0.0% (n 4) | 75.0% (n 4) | yes | – |"), "\(md)")
        let html = report.html()
        #expect(html.contains("<section id=\"frontier\"><h2>Frontier</h2><svg") && html.contains("<polyline"))
        // A model without both rates has no point.
        let plain = ReportModel(results: EvalResults(label: "x", model: "m", adapter: nil, suite: "s", judge: "rules", date: "d", benchmarks: [:], cost: [:]), examples: [], embedding: nil)
        #expect(Report.FrontierPoint.of(plain, method: "x") == nil)
    }

    @Test func seedsGiveMeanAndRangeAndAblationsTheChangeFromRW() {
        var report = Report(models: [Self.model("RW", unsafe: 2, refused: 1, harmbench: 0.4, nll: 1.6), Self.model("RW+OP-COT", unsafe: 1, refused: 1, harmbench: 0.3, nll: 1.65),
                                     Self.model("SaRO", unsafe: 1, refused: 1, harmbench: 0.2, nll: 1.7)], curves: [], focus: "SaRO")
        report.seedRuns = [("RW", [Self.model("RW", unsafe: 2, refused: 1, harmbench: 0.4), Self.model("RW", unsafe: 0, refused: 1, harmbench: 0.6)]),
                           ("SaRO", [Self.model("SaRO", unsafe: 1, refused: 1, harmbench: 0.2)])]
        let md = report.markdown()
        #expect(md.contains("| RW | 2 | 50.0% (40.0%–60.0%) |"), "\(md)")
        #expect(md.contains("| SaRO | 1 | 20.0% |"), "\(md)")
        #expect(md.contains("## Ablations") && md.contains("| RW+OP-COT | 30.0% (-10.0) |"), "\(md)")
        #expect(md.contains("| SaRO | 20.0% (-20.0) |"), "\(md)")
        // One run each: no Seeds section; no ablation beside RW and SaRO: no Ablations section.
        let single = Report(models: [Self.model("RW", unsafe: 2, refused: 1), Self.model("SaRO", unsafe: 1, refused: 1)], curves: [], focus: "SaRO")
        #expect(!single.markdown().contains("## Seeds") && !single.markdown().contains("## Ablations"))
    }
}
