import Foundation
import Jobs
import Judges
import Models
import SaRO
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
}

/// Runs a suite on one model: generates with the batched engine (greedy), judges, scores,
/// and keeps every response, judgment and reference score in the job store, so an
/// interrupted evaluation resumes without generating anything twice.
public struct EvalRunner {
    public let model: LocalModel
    public let judge: Judge
    public let store: JobStore
    public let context: BenchmarkContext
    public let format: ResponseFormat
    public let events: @Sendable (BuildEvent) -> Void

    public init(model: LocalModel, judge: Judge, store: JobStore, context: BenchmarkContext, format: ResponseFormat = .standard,
                events: @escaping @Sendable (BuildEvent) -> Void = { _ in }) {
        self.model = model; self.judge = judge; self.store = store; self.context = context; self.format = format; self.events = events
    }

    struct Stored: Codable { var text: String; var tokens: Int }
    struct NLL: Codable { var sum: Double; var tokens: Int }

    func responseKey(_ prompt: String, _ maxTokens: Int) -> String { ContentKey.of("eval-response-v1", model.fingerprint, prompt, "\(maxTokens)") }

    /// Generates what is missing, in batches, storing each batch as it finishes.
    func responses(_ prompts: [String], maxTokens: Int) throws -> [String: Stored] {
        let unique = Array(Set(prompts)).sorted()
        let present = try store.keys("response")
        let missing = unique.filter { !present.contains(responseKey($0, maxTokens)) }
        events(.stage("generate", total: unique.count, done: unique.count - missing.count))
        var start = 0
        while start < missing.count {
            let chunk = Array(missing[start..<min(missing.count, start + model.batchSize)])
            let out = try model.complete(chunk.map { [ChatMessage.user($0)] }, options: chunk.map { _ in GenerationOptions(maxNewTokens: maxTokens) })
            for (p, c) in zip(chunk, out) { try store.set(Stored(text: c.text, tokens: c.tokens), "response", responseKey(p, maxTokens)) }
            events(.advanced(chunk.count))
            start += chunk.count
        }
        var result: [String: Stored] = [:]
        for p in unique { result[p] = try store.get(Stored.self, "response", responseKey(p, maxTokens)) }
        return result
    }

    public func run(suite: Suite, label: String, modelName: String, adapter: String?) async throws -> (EvalResults, [ExampleResult]) {
        let benchmarks = suite.benchmarks()
        let examples = try benchmarks.map { try $0.examples(context) }
        let toGenerate = zip(benchmarks, examples).filter { $0.0.mode == .generate }.flatMap { $0.1.map(\.prompt) }
        let generated = try responses(toGenerate, maxTokens: suite.maxTokens)

        var all: [ExampleResult] = []
        var summary: [String: [String: Double]] = [:]
        for (b, exs) in zip(benchmarks, examples) {
            events(.stage(b.name, total: exs.count, done: 0))
            var results: [ExampleResult] = []
            for e in exs {
                switch b.mode {
                case .generate:
                    let r = generated[e.prompt]!
                    let j = try await store.judgment(judge, kind: e.kind, request: e.request, response: r.text)
                    let parts = format.parse(r.text)
                    results.append(ExampleResult(benchmark: b.name, example: e, response: r.text, judgment: j, scores: b.evaluate(e, response: r.text, judgment: j),
                                                 reasoningTokens: try parts.reasoning.map(model.countTokens), answerTokens: try model.countTokens(parts.answer)))
                case .scoreReference:
                    let key = ContentKey.of("eval-nll-v1", model.fingerprint, e.prompt, e.reference ?? "")
                    let nll = try store.cachedSync("nll", key) { () -> NLL in
                        let r = try model.assistantNLL([[ChatMessage.user(e.prompt), ChatMessage.assistant(e.reference ?? "")]])[0]
                        return NLL(sum: r.sum, tokens: r.tokens)
                    }
                    results.append(ExampleResult(benchmark: b.name, example: e, response: nil, judgment: nil,
                                                 scores: ["nll_sum": nll.sum, "tokens": Double(nll.tokens), "nll": nll.sum / Double(max(1, nll.tokens))]))
                }
                events(.advanced(1))
            }
            summary[b.name] = b.summarize(results)
            all += results
        }
        let responses = all.filter { $0.response != nil }
        let n = Double(max(1, responses.count))
        let cost: [String: Double] = [
            "responses": Double(responses.count),
            "mean_reasoning_tokens": Double(responses.map { $0.reasoningTokens ?? 0 }.reduce(0, +)) / n,
            "mean_answer_tokens": Double(responses.map { $0.answerTokens ?? 0 }.reduce(0, +)) / n,
            "format_error_rate": Double(responses.filter { $0.judgment?.formatError == true }.count) / n,
            // An LLM judge's outputs that did not parse (the rules decided those instead).
            "judge_parse_failures": Double(responses.filter { $0.judgment?.parseFailure == true }.count),
        ]
        let date = ISO8601DateFormatter().string(from: Date())
        return (EvalResults(label: label, model: modelName, adapter: adapter, suite: suite.name, judge: judge.name, date: date, benchmarks: summary, cost: cost), all)
    }

    /// Writes `results.json` and `examples.jsonl` into a folder (atomically).
    public static func write(_ results: EvalResults, _ examples: [ExampleResult], to dir: String) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try JSONL.writeAtomically(String(decoding: try enc.encode(results), as: UTF8.self) + "\n", to: (dir as NSString).appendingPathComponent("results.json"))
        try JSONL.write(examples, to: (dir as NSString).appendingPathComponent("examples.jsonl"))
    }
}
