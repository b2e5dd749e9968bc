import Evaluation
import Foundation
import Inference
import Jobs
import Judges
import SaRO

/// Evaluating one model on a suite into a folder: `results.json`, `examples.jsonl`, the job
/// store `eval.sqlite`, and `embedding.json` when asked. `saro eval` and the pipeline's
/// evaluation stages both run this, so the two give the same results for the same inputs.
public struct EvaluationJob: Sendable {
    public var suite: Suite
    /// Where the examples come from, and the think tags responses are read with.
    public var data: DataConfig
    public var judge: JudgeChoice
    /// How the model is named in results and reports.
    public var label: String
    public var modelName: String
    public var adapter: String?
    /// Prompts per kind and layer of the embedding analysis; nil for none.
    public var embeddings: (perKind: Int, layer: Int?)?

    public init(suite: Suite, data: DataConfig, judge: JudgeChoice, label: String, modelName: String, adapter: String?,
                embeddings: (perKind: Int, layer: Int?)? = nil) {
        self.suite = suite; self.data = data; self.judge = judge; self.label = label; self.modelName = modelName; self.adapter = adapter
        self.embeddings = embeddings
    }

    public struct Outcome: Sendable { public var results: EvalResults; public var embedding: EmbeddingAnalysis? }

    public func run(engine: InferenceEngine, out: String, events: @escaping @Sendable (ProgressEvent) -> Void) async throws -> Outcome {
        let sources = try MethodBenchmarkSources(data: data) { events(.note($0)) }
        // Any judge but the rules is read beside them: the report then shows how far the two agree.
        let second: Judge? = judge == .rules ? nil : RuleJudge(format: data.format)
        let runner = EvalRunner(engine: engine, judge: try DataPipeline.makeJudge(judge, format: data.format) { events(.note($0)) }, secondJudge: second,
                                store: try JobStore(path: (out as NSString).appendingPathComponent("eval.sqlite")), format: data.format, events: events)
        let (results, examples) = try await runner.run(suite: suite, sources: sources, label: label, modelName: modelName, adapter: adapter)
        try EvalRunner.write(results, examples, to: out)
        guard let embeddings else { return Outcome(results: results, embedding: nil) }
        guard let hidden = engine as? HiddenStateEngine else {
            events(.note("embedding analysis skipped for \(label): its engine shows no hidden states (run it on the embedded engine)"))
            return Outcome(results: results, embedding: nil)
        }
        let analysis = try EmbeddingAnalysis.run(engine: hidden, label: label, sources: sources, perKind: embeddings.perKind, layer: embeddings.layer)
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try JSONL.writeAtomically(String(decoding: try enc.encode(analysis), as: UTF8.self) + "\n", to: (out as NSString).appendingPathComponent("embedding.json"))
        return Outcome(results: results, embedding: analysis)
    }
}
