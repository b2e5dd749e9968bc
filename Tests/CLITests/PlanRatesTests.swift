import Recipes
import Testing

/// The dry run's throughputs: the default recipe's measured rates, scaled by model size and by
/// this machine's sgemm speed against the reference machine's.
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

    @Test func measuredSgemmSpeedIsPlausible() {
        let g = Rates.measureGflops()
        #expect(g > 1 && g < 100_000, "\(g) GFLOP/s")
    }
}
