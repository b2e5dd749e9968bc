import Foundation
import Models
import Recipes
import Support
import Testing

/// The dry run's throughputs: measured with the recipe's model, or (no model here) the reference
/// run's rates scaled by model size and by this machine's sgemm speed.
@Suite struct PlanRatesTests {
    @Test func ratesScaleWithModelSizeAndMachineSpeed() {
        let reference = Rates.estimate(parameters: 135e6, gflops: 125)
        #expect(reference.decode == 118 && reference.train == 162)
        // Twice the sgemm speed: twice the tokens per second; a model ten times larger: a tenth.
        let fast = Rates.estimate(parameters: 135e6, gflops: 250)
        #expect(fast.decode == 236 && fast.train == 324)
        let large = Rates.estimate(parameters: 1.35e9, gflops: 125)
        #expect(abs(large.train - 16.2) < 1e-9 && abs(large.decode - 11.8) < 1e-9)
        // A failed measurement falls back to the reference machine.
        #expect(Rates.estimate(parameters: 135e6, gflops: .nan).train == 162)
        #expect(Rates.estimate(parameters: 135e6, gflops: 0).decode == 118)
    }

    /// A measurement that had under 70% of the cores says so, with its share: its rates read
    /// low. The process's CPU clock counts the work it did.
    @Test func aMeasurementOnSharedCoresSaysSo() {
        #expect(Rates.sharedCoresNote(cpuSeconds: 38, wallSeconds: 20, cores: 2) == nil)
        let note = Rates.sharedCoresNote(cpuSeconds: 12, wallSeconds: 20, cores: 2)
        #expect(note?.hasPrefix("saro had 30% of its 2 cores while measuring") == true, "\(note ?? "nil")")
        #expect(Rates.sharedCoresNote(cpuSeconds: 1, wallSeconds: 0, cores: 2) == nil)
        let c0 = ProcessCPUClock.seconds(), t0 = MonotonicClock.seconds()
        var x = 0.0
        while MonotonicClock.seconds() - t0 < 0.05 { x += 1 }
        #expect(ProcessCPUClock.seconds() - c0 > 0.02 && x > 0)
    }

    @Test func measuredSgemmSpeedIsPlausible() {
        let g = Rates.measureGflops()
        #expect(g > 1 && g < 100_000, "\(g) GFLOP/s")
    }

    /// Measured on a tiny model: positive rates, and the plan of a recipe on that model says
    /// they were measured.
    @Test func ratesAreMeasuredWithTheRecipesModel() throws {
        let loaded = try PretrainedModel.load(CorruptInputTests.tinyModel.path)
        let r = try Rates.measure(loaded: loaded, batch: 4, rank: 4, gradientCheckpointing: true)
        #expect(r.decode > 0 && r.decode.isFinite && r.train > 0 && r.train.isFinite, "\(r)")
        #expect(r.source.contains("measured"), "\(r)")
        let dir = TrainResumeTests.work("plan-measured")
        let recipe = dir.appendingPathComponent("r.yaml")
        try Data("name: measured\nmodel: \(CorruptInputTests.tinyModel.path)\ndata: {harmful: 2, jailbreak: 2, benign: 2}\neval: {suite: quick}\n".utf8).write(to: recipe)
        let plan = try CLITests.saro(["run", recipe.path, "--out", dir.appendingPathComponent("run").path, "--dry-run"])
        #expect(plan.status == 0 && plan.out.contains("measured here with the recipe's model"), "\(plan.out.suffix(400)) \(plan.err.suffix(300))")
    }
}
