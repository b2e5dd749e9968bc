import ArgumentParser
import Evaluation
import Foundation
import Jobs
import Models
import Recipes
import SaRO

struct EvalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate a model: harmful and jailbreak ASR, XSTest over-refusal, GSM8K, reference NLL, reasoning cost.",
        discussion: """
            Responses are generated greedily with the batched engine, judged, and kept with every \
            judgment in <out>/eval.sqlite: a rerun (after an interruption, or with more benchmarks) \
            generates nothing twice. With --server the answers come from OpenAI-compatible servers \
            instead: reference NLL comes from the server's prompt log-probs (/v1/completions with \
            echo and logprobs, as vLLM and `saro serve` give them; not measured where the server has \
            none), and --embeddings is skipped (servers show no hidden states). Writes <out>/results.json and \
            <out>/examples.jsonl. Suites: \
            \(Suite.builtIn.joined(separator: ", ")), or a YAML file (name, max_tokens, benchmarks: \
            [{name, limit, per_family, source}]); benchmarks: \(Suite.benchmarkNames.joined(separator: ", ")).
            """)

    @OptionGroup var model: ModelOptions
    @OptionGroup var judgeOptions: JudgeOptions
    @OptionGroup var engineOptions: EngineOptions
    @Option(help: ArgumentHelp("Suite name or YAML file.", valueName: "suite")) var suite = "default"
    @Option(help: ArgumentHelp("Output folder.", valueName: "dir")) var out: String
    @Option(help: "Name of this model in reports (Base, Safety-SFT, RW, SaRO, ...).") var label: String?
    @Option(help: ArgumentHelp("Data settings (YAML or recipe): held-out families and sources of the jailbreak set.", valueName: "file"))
    var config: String?
    @Option(help: ArgumentHelp("Folder holding gsm8k/ and xstest/ in place of the copies saro ships.", valueName: "dir")) var dataDir: String?
    @Flag(help: "Also analyse the embedding space (mean-pooled hidden states of harmful, jailbreak and benign prompts) into <out>/embedding.json.")
    var embeddings = false
    @Option(help: "Layer for --embeddings (default: two thirds of the depth).") var embeddingLayer: Int?
    @Option(help: "Prompts per kind for --embeddings.") var embeddingCount = 40
    @Option(help: "Rows decoded together.") var batchSize = 8
    @Flag(help: "No progress bars.") var quiet = false

    /// The data settings: --config's, with --data-dir over them.
    func dataConfig() throws -> DataConfig {
        var data = try config.map(DataConfig.load(path:)) ?? DataConfig()
        if let dataDir { data.dataDir = dataDir }
        return data
    }

    func run() async throws {
        let name = label ?? (model.adapter.map { URL(fileURLWithPath: $0).lastPathComponent } ?? URL(fileURLWithPath: model.model).lastPathComponent)
        let job = EvaluationJob(suite: try Suite.named(suite), data: try dataConfig(), judge: try judgeOptions.choice(), label: name,
                                modelName: model.model, adapter: model.adapter, embeddings: embeddings ? (embeddingCount, embeddingLayer) : nil)
        let progress = BuildProgress(quiet: quiet)
        let outcome = try await job.run(engine: try engineOptions.engine(model.model, adapter: model.adapter, batchSize: batchSize), out: out, events: progress.handle)
        progress.finish()
        let results = outcome.results
        if let e = outcome.embedding {
            print(String(format: "embedding (layer %d): probe accuracy %.3f, ", e.layer, e.probeAccuracy) +
                  e.centroidDistances.sorted { $0.key < $1.key }.map { "\($0.key) \(String(format: "%.2f", $0.value))" }.joined(separator: ", "))
        }
        for (b, m) in results.benchmarks.sorted(by: { $0.key < $1.key }) {
            let main = m.filter { !GroupedMetric.jailbreakFamilyASR.covers($0.key) && !GroupedMetric.xstestRefusalByType.covers($0.key) }.sorted { $0.key < $1.key }
            print("\(b): " + main.map { "\($0.key) \(String(format: "%.4g", $0.value))" }.joined(separator: ", "))
        }
        print("cost: " + results.cost.sorted { $0.key < $1.key }.map { "\($0.key) \(String(format: "%.4g", $0.value))" }.joined(separator: ", "))
        print("wrote \(out)/results.json and \(out)/examples.jsonl")
    }
}
