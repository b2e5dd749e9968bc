import ArgumentParser
import Foundation
import Recipes

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a SaRO recipe end to end: data, RW, OP-COT and PP-COT, SRPO, baselines, evaluation, report.",
        discussion: """
            Stages run in order inside the run folder (recipe out:, or --out): data-ritd, \
            data-direct, data-safety-dpo, train-rw, merge-rw, data-opcot, data-ppcot, train-saro, \
            [data-opcot-srs, train-saro-srs], [train-saro-opcot, train-saro-ppcot], train-safety-sft, train-safety-dpo, eval-<model>..., \
            [eval-<adapter>-<k>of<n>: frontier points], [seed-<k>/...: the stages of later seeds], report. stages.json records each finished stage with a fingerprint of its inputs and \
            settings: a rerun skips finished stages whose inputs are unchanged and resumes an \
            interrupted one (builds and evaluations from their job stores, training from its \
            newest checkpoint). Shipped recipes: recipes/smollm2-135m.yaml, recipes/tiny.yaml, \
            recipes/external-teacher.yaml.
            """)

    @Argument(help: "The recipe (YAML).") var recipe: String
    @Option(help: ArgumentHelp("Run folder (default: the recipe's out:).", valueName: "dir")) var out: String?
    @Flag(help: "Print the plan (stages, whether each is done, what it will do) and stop.") var dryRun = false
    @Flag(help: "No progress bars.") var quiet = false
    @Option(help: ArgumentHelp("Runs of the stochastic stages, each with the recipe's seeds plus its index (overrides the recipe's seeds:); the report shows each model's mean and range.", valueName: "n"))
    var seeds: Int?

    func validate() throws {
        if let seeds, seeds < 1 { throw ValidationError("--seeds must be at least 1") }
    }

    func run() async throws {
        var r = try Recipe.load(path: recipe)
        if let seeds { r.seeds = seeds }
        for warning in try r.checkInputs(recipePath: recipe, planOnly: dryRun) {
            FileHandle.standardError.write(Data("saro: warning: \(warning)\n".utf8))
        }
        let progress = BuildProgress(quiet: quiet)
        let trainBar = TrainBar(quiet: quiet)
        let pipeline = Pipeline(recipe: r, out: out, executable: Bundle.main.executableURL?.resolvingSymlinksInPath().path) { e in
            switch e {
            case .stageStarted(let name, let i, let n):
                progress.finish(); trainBar.finish()
                FileHandle.standardError.write(Data("saro: [\(i)/\(n)] \(name)\n".utf8))
            case .stageSkipped(let name): FileHandle.standardError.write(Data("saro: \(name): done, inputs unchanged (skipped)\n".utf8))
            case .stageFinished(let name, let s, let peak):
                progress.finish(); trainBar.finish()
                FileHandle.standardError.write(Data("saro: \(name) finished in \(ProgressBar.clock(s)), peak memory \(Int(peak.rounded())) MB\n".utf8))
            case .build(let b): progress.handle(b)
            case .training(let step, let total, let loss): trainBar.update(step: step, total: total, loss: loss)
            case .note(let text): if !quiet { FileHandle.standardError.write(Data("saro: \(text)\n".utf8)) }
            }
        }
        if dryRun {
            print("recipe \(r.name): model \(r.model)\(r.initModel != nil ? " (random init)" : ""), run folder \(out ?? r.out)")
            let rates = pipeline.rates()
            let stages = try pipeline.plan(rates: rates)
            // Names as wide as the longest (seed-k/ stages and frontier points run long).
            let width = stages.map(\.name.count).max() ?? 18
            for (i, s) in stages.enumerated() {
                let estimate = s.seconds > 0 ? " [~\(s.decodeTokens > 0 ? "\(s.decodeTokens) tokens decoded, " : "")\(s.trainTokens > 0 ? "\(s.trainTokens) trained, " : "")\(ProgressBar.clock(s.seconds))]" : ""
                print("\(String(format: "%2d", i + 1)). \(s.name.padding(toLength: width, withPad: " ", startingAt: 0)) \(s.status.rawValue.padding(toLength: 15, withPad: " ", startingAt: 0)) \(s.plan)\(estimate)")
            }
            let todo = stages.filter { $0.status != .done }
            print(String(format: "estimated: %d tokens decoded, %d tokens trained, about %@ on this machine (at ~%.0f decode (~%.0f with adapters), ~%.0f prefill and ~%.0f training tokens/s, "
                         + "%@; teacher calls, judging and stages on servers or TRL not counted)",
                         todo.map(\.decodeTokens).reduce(0, +), todo.map(\.trainTokens).reduce(0, +), ProgressBar.clock(todo.map(\.seconds).reduce(0, +)),
                         rates.decode, rates.decodeAdapted, rates.prefill, rates.train, rates.source))
            return
        }
        try await pipeline.run()
        let folder = (out ?? r.out) as NSString
        print("report: \(folder.appendingPathComponent("report.html"))")
    }
}

/// A progress bar for the training stages.
final class TrainBar: @unchecked Sendable {
    let lock = NSLock()
    var bar: ProgressBar?
    let quiet: Bool
    init(quiet: Bool) { self.quiet = quiet }
    func update(step: Int, total: Int, loss: Double) {
        lock.lock(); defer { lock.unlock() }
        if bar == nil { bar = ProgressBar(label: "train", quiet: quiet); bar!.start(total: total, done: step - 1) }
        bar!.update(done: step, status: String(format: "loss %.4f", loss))
    }
    func finish() { lock.lock(); bar?.finish(); bar = nil; lock.unlock() }
}
