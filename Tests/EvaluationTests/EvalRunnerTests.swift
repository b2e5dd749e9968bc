import Foundation
import Testing
@testable import Evaluation
import Inference
import Jobs
import Judges
import Support

/// An engine that answers "ok" and records the prompts of each batch it was handed.
final class RecordingEngine: InferenceEngine, @unchecked Sendable {
    let fingerprint = "recording"
    let batchSize = 2
    private let lock = NSLock()
    private(set) var batches: [[String]] = []

    func complete(_ requests: [CompletionRequest]) async throws -> [Completion] {
        lock.withLock { batches.append(requests.map { $0.messages.last?.content ?? "" }) }
        return requests.map { _ in Completion(text: "ok", tokens: 1) }
    }
    func assistantNLL(_ conversations: [[ChatMessage]]) async throws -> [AssistantNLL]? { nil }
    func countTokens(_ text: String) throws -> Int? { nil }
}

@Suite struct EvalRunnerTests {
    /// A batch is prefilled to its longest prompt, so the runner hands the engine prompts of
    /// similar length together (short requests apart from long jailbreak templates), each once.
    @Test func promptsOfSimilarLengthAreBatchedTogether() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("saro-eval-runner-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let engine = RecordingEngine()
        let runner = EvalRunner(engine: engine, judge: RuleJudge(), store: try JobStore(path: dir.appendingPathComponent("eval.sqlite").path))
        // In text order the long and the short ones alternate.
        let prompts = ["a" + String(repeating: "x", count: 900), "b?", "c" + String(repeating: "y", count: 800), "d?", "e?"]
        let out = try await runner.responses(prompts + ["b?"], maxTokens: 4)
        #expect(out.count == 5 && out.values.allSatisfy { $0.text == "ok" })
        #expect(engine.batches.map { $0.map(\.count) } == [[2, 2], [2, 801], [901]], "\(engine.batches)")
    }
}
