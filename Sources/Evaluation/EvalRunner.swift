import Support
import Foundation
import Jobs
import Judges
import Inference
import Tokenizers

/// What `saro eval` writes to `results.json`.
public struct EvalResults: Codable, Sendable {
    public var label: String
    public var model: String
    public var adapter: String?
    public var suite: String
    public var judge: String
    public var date: String
    public var benchmarks: [String: [String: Double]]
    /// Mean reasoning and answer tokens per generated response, and the share of responses
    /// without a well-formed reasoning block.
    public var cost: [String: Double]
    /// When a second judge read the same responses: how often it agreed with the first.
    public var judgeAgreement: JudgeAgreement?

    enum CodingKeys: String, CodingKey { case label, model, adapter, suite, judge, date, benchmarks, cost, judgeAgreement = "judge_agreement" }
}

/// Two judges on the same responses: on harmful and jailbreak requests whether the answer is
/// unsafe, on benign ones whether it refuses (under XSTest's definition, as the over-refusal
/// metric reads it). A difference between models smaller than what
/// the judges disagree on is not one a reader can trust.
public struct JudgeAgreement: Codable, Sendable {
    public var judges: [String]
    public var harm: Agreement?
    public var refusal: Agreement?

    public static func measure(judges: [String], _ pairs: [(kind: RequestKind, first: Judgment, second: Judgment)]) -> JudgeAgreement {
        let harmful = pairs.filter { $0.kind.isHarmful }.map { (JudgeTask.harm.label(of: $0.first), JudgeTask.harm.label(of: $0.second)) }
        let benign = pairs.filter { !$0.kind.isHarmful }.map { (JudgeTask.refusal.label(of: $0.first, under: .xstest), JudgeTask.refusal.label(of: $0.second, under: .xstest)) }
        return JudgeAgreement(judges: judges, harm: harmful.isEmpty ? nil : Agreement(harmful, classes: JudgeTask.harm.labels),
                              refusal: benign.isEmpty ? nil : Agreement(benign, classes: JudgeTask.refusal.labels))
    }
}

/// Runs a suite on one model: generates greedily on its inference engine, judges, scores, and
/// keeps every response, judgment and reference score in the job store, so an interrupted
/// evaluation resumes without generating anything twice.
public struct EvalRunner {
    public let engine: InferenceEngine
    public let judge: Judge
    /// A second judge read every response too (the report gives the two judges' agreement).
    public let secondJudge: Judge?
    public let store: JobStore
    public let format: ResponseFormat
    public let events: @Sendable (ProgressEvent) -> Void

    public init(engine: InferenceEngine, judge: Judge, secondJudge: Judge? = nil, store: JobStore, format: ResponseFormat = .standard,
                events: @escaping @Sendable (ProgressEvent) -> Void = { _ in }) {
        self.engine = engine; self.judge = judge; self.secondJudge = secondJudge; self.store = store; self.format = format; self.events = events
    }

    /// The engine cannot score given text: reference NLL is not measured.
    struct NotMeasured: Error {}

    func responseKey(_ prompt: String, _ maxTokens: Int) -> String { ContentKey.of("eval-response-v1", engine.fingerprint, prompt, "\(maxTokens)") }

    /// Responses to the prompts (one per distinct prompt), generating what is missing. The
    /// engine gets them in batches of similar length: a batch is prefilled to its longest prompt,
    /// and the suites mix short requests with long jailbreak templates.
    func responses(_ prompts: [String], maxTokens: Int) async throws -> [String: Completion] {
        let unique = Array(Set(prompts)).sorted()
        let events = self.events
        let out: [Completion] = try await store.cachedBatches(
            "response", keys: unique.map { responseKey($0, maxTokens) }, batchSize: engine.chunkSize,
            batchOrder: { (unique[$0].count, $0) < (unique[$1].count, $1) },
            started: { events(.stage("generate", total: $0, done: $1)) }, advanced: { events(.advanced($0)) }
        ) { rows in
            try await engine.complete(rows.map { CompletionRequest(messages: [.user(unique[$0])], maxTokens: maxTokens) })
        }
        return Dictionary(uniqueKeysWithValues: zip(unique, out))
    }

    /// Reference NLL of each example (prompt as the user turn, reference as the answer), or
    /// nil when the engine cannot score.
    func referenceNLL(_ examples: [EvalExample]) async throws -> [AssistantNLL]? {
        let keys = examples.map { ContentKey.of("eval-nll-v1", engine.fingerprint, $0.prompt, $0.reference ?? "") }
        do {
            return try await store.cachedBatches("nll", keys: keys, batchSize: engine.batchSize) { rows in
                guard let scored = try await engine.assistantNLL(rows.map { [.user(examples[$0].prompt), .assistant(examples[$0].reference ?? "")] }) else { throw NotMeasured() }
                return scored
            }
        } catch is NotMeasured { return nil }
    }

    public func run(suite: Suite, sources: BenchmarkSources, label: String, modelName: String, adapter: String?) async throws -> (EvalResults, [ExampleResult]) {
        let benchmarks = try suite.benchmarks(sources)
        let toGenerate = benchmarks.filter { $0.mode == .generate }.flatMap { $0.examples.map(\.prompt) }
        let generated = try await responses(toGenerate, maxTokens: suite.maxTokens)

        var all: [ExampleResult] = []
        var judged: [(kind: RequestKind, first: Judgment, second: Judgment)] = []
        var summary: [String: [String: Double]] = [:]
        for b in benchmarks {
            let exs = b.examples
            var results: [ExampleResult] = []
            events(.stage(b.name, total: exs.count, done: 0))
            switch b.mode {
            case .generate:
                let asked = exs.map { (kind: $0.kind, request: $0.request, response: generated[$0.prompt]!.text) }
                let events = self.events
                let verdicts = try await store.judgments(judge, asked) { _, _ in events(.advanced(1)) }
                if let secondJudge {
                    let second = try await store.judgments(secondJudge, asked)
                    judged += zip(asked, zip(verdicts, second)).map { ($0.kind, $1.0, $1.1) }
                }
                for ((e, j), text) in zip(zip(exs, verdicts), asked.map(\.response)) {
                    let parts = format.parse(text)
                    results.append(ExampleResult(benchmark: b.name, example: e, response: text, judgment: j, scores: b.evaluate(e, response: text, judgment: j),
                                                 reasoningTokens: try parts.reasoning.flatMap(engine.countTokens), answerTokens: try engine.countTokens(parts.answer)))
                }
            case .scoreReference:
                let scored = try await referenceNLL(exs)
                for (i, e) in exs.enumerated() {
                    let scores = scored.map { n in ["nll_sum": n[i].sum, "tokens": Double(n[i].tokens), "nll": n[i].mean] } ?? [:]
                    results.append(ExampleResult(benchmark: b.name, example: e, response: nil, judgment: nil, scores: scores))
                }
                events(.advanced(exs.count))
            }
            summary[b.name] = b.summarize(results)
            all += results
        }
        let date = ISO8601DateFormatter().string(from: Date())
        let agreement = secondJudge.map { JudgeAgreement.measure(judges: [judge.name, $0.name], judged) }
        return (EvalResults(label: label, model: modelName, adapter: adapter, suite: suite.name, judge: judge.name, date: date, benchmarks: summary,
                            cost: Self.cost(all), judgeAgreement: agreement), all)
    }

    /// Reasoning cost over the generated responses; token means only where the engine counted.
    static func cost(_ all: [ExampleResult]) -> [String: Double] {
        let responses = all.filter { $0.response != nil }
        let n = Double(max(1, responses.count))
        var cost: [String: Double] = [
            Metric.responses.key: Double(responses.count),
            Metric.formatErrorRate.key: Double(responses.filter { $0.judgment?.formatError == true }.count) / n,
            // An LLM judge's outputs that did not parse (the rules decided those instead).
            Metric.judgeParseFailures.key: Double(responses.filter { $0.judgment?.parseFailure == true }.count),
        ]
        let counted = responses.filter { $0.answerTokens != nil }
        if !counted.isEmpty {
            let m = Double(counted.count)
            cost[Metric.meanReasoningTokens] = Double(counted.map { $0.reasoningTokens ?? 0 }.reduce(0, +)) / m
            cost[Metric.meanAnswerTokens] = Double(counted.map { $0.answerTokens ?? 0 }.reduce(0, +)) / m
        }
        return cost
    }

    /// Writes `results.json` and `examples.jsonl` into a folder (atomically).
    public static func write(_ results: EvalResults, _ examples: [ExampleResult], to dir: String) throws {
        try JSONL.writeDocument(results, to: (dir as NSString).appendingPathComponent("results.json"))
        try JSONL.write(examples, to: (dir as NSString).appendingPathComponent("examples.jsonl"))
    }
}
