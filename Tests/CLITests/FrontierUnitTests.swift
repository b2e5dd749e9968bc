import Evaluation
import Foundation
@testable import Recipes
import Testing

/// The pieces of the frontier and seeds that need no run: which checkpoints a frontier reads,
/// the seeds of each run, and the recipe's checks.
@Suite struct FrontierUnitTests {
    @Test func checkpointsNearestEachPartNeverTheFinal() {
        let c = FrontierCheckpoints.choose(steps: [10, 20, 30, 40, 50, 60, 70, 74], points: 3)
        // 74/3 = 24.7 -> 20; 2*74/3 = 49.3 -> 50.
        #expect(c?.map(\.step) == [20, 50] && c?.allSatisfy { $0.final == 74 } == true)
        // A tie takes the earlier checkpoint; the final step is never a point before the end.
        #expect(FrontierCheckpoints.choose(steps: [1, 2, 3], points: 2)?.map(\.step) == [1])
        #expect(FrontierCheckpoints.choose(steps: [4], points: 2) == nil)
        #expect(FrontierCheckpoints.choose(steps: [], points: 2) == nil)
        // After pruning to the chosen and the final, the choice is the same.
        #expect(FrontierCheckpoints.choose(steps: [20, 50, 74], points: 3)?.map(\.step) == [20, 50])
    }

    @Test func laterSeedsAddTheirIndexToEverySeed() throws {
        let r = try Recipe.parse("name: s\nseeds: 3\nrw: {seed: 7}\ndata: {seed: 5}\n", path: "r.yaml")
        #expect(r.seeds == 3)
        let two = r.seeded(2)
        #expect(two.data.seed == 7 && two.rw.seed == 9 && two.srpo.seed == 44 && two.sampling.seed == 2)
        let p = Pipeline(recipe: r, out: "/tmp/saro-seeds-plan", events: { _ in })
        #expect(p.replicates.map(\.dir) == ["/tmp/saro-seeds-plan/seed-1", "/tmp/saro-seeds-plan/seed-2"])
        // Every run's evaluations draw their prompts with run 0's data settings.
        #expect(p.replicates.allSatisfy { $0.evaluationData == r.data && !$0.evaluated.contains { $0.label == "Base" } })
    }

    @Test func recipeChecksSeedsAndFrontier() {
        func error(_ text: String) -> String {
            do { _ = try Recipe.parse(text, path: "r.yaml"); return "" } catch { return "\(error)" }
        }
        #expect(error("seeds: 0\n").contains("r.yaml:1: seeds is the number of runs"))
        #expect(error("frontier: {points: 1}\n").contains("frontier.points must be at least 2"))
        #expect(error("frontier: {points: 3}\nrw: {save_steps: 0}\n").contains("rw.save_steps must be set"))
        #expect(error("frontier: {steps: 3}\n").contains("steps"))
    }

    @Test func suitePartsDrawTheWholeSuitesPrompts() throws {
        let suite = try Suite.parse("benchmarks:\n  - {name: harmbench, limit: 3}\n  - {name: jailbreak, per_family: 2}\n  - {name: xstest, limit: 45}\n", path: "s.yaml")
        let part = try #require(suite.frontierPart())
        #expect(part.entries == [Suite.Entry(name: "jailbreak", perFamily: 2, only: "held-out"), Suite.Entry(name: "xstest", limit: 45, only: "safe")])
        #expect(try Suite.parse("benchmarks:\n  - {name: gsm8k}\n", path: "s.yaml").frontierPart() == nil)
        for (text, reason) in [("{name: xstest, only: held-out}", "only 'held-out': one of safe, unsafe"),
                               ("{name: gsm8k, only: safe}", "none for gsm8k")] {
            do { _ = try Suite.parse("benchmarks:\n  - \(text)\n", path: "s.yaml"); Issue.record("accepted \(text)") } catch {
                #expect("\(error)".contains("s.yaml:2") && "\(error)".contains(reason), "\(error)")
            }
        }
    }
}
