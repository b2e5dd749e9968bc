import Support
import Foundation
import Inference
import Jobs
import Models
import Tokenizers

/// Benign answers from a model (the offline teacher's answerer), on any inference engine:
/// greedy, or sampled at `temperature`.
public struct ModelAnswerer: Answerer {
    public let engine: InferenceEngine
    public let maxTokens: Int
    /// 0: greedy. Otherwise each prompt's answer is sampled (top-p 1) with a seed drawn from the
    /// prompt, so it does not depend on the batch it was decoded in.
    public let temperature: Float
    public init(engine: InferenceEngine, maxTokens: Int = 256, temperature: Float = 0) {
        self.engine = engine; self.maxTokens = maxTokens; self.temperature = temperature
    }
    public var id: String {
        temperature > 0 ? ContentKey.of("model-answerer", engine.fingerprint, "\(maxTokens)", "temperature \(temperature)")
            : ContentKey.of("model-answerer", engine.fingerprint, "\(maxTokens)")
    }
    public var batchSize: Int { engine.batchSize }

    public func answer(_ prompts: [String]) async throws -> [String] {
        let requests = prompts.map { p in
            CompletionRequest(messages: [.user(p)], maxTokens: maxTokens, sampling: temperature > 0
                ? SamplingParameters(temperature: temperature, seed: ContentKey.seed(ContentKey.of("answer", p))) : .greedy)
        }
        return try await engine.complete(requests).map { $0.text.trimmingCharacters(in: .whitespacesAndNewlines) }
    }
}
