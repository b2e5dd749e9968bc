import Support
import Foundation
import Inference
import Jobs
import Judges
import Models
import Tokenizers

/// Settings for sampling responses from the policy model.
public struct SamplingSettings: Codable, Sendable, Equatable {
    public var samples: Int
    public var temperature: Float
    public var topP: Float
    public var maxTokens: Int
    public var seed: UInt64
    public init(samples: Int = 4, temperature: Float = 0.8, topP: Float = 0.95, maxTokens: Int = 384, seed: UInt64 = 0) {
        self.samples = samples; self.temperature = temperature; self.topP = topP; self.maxTokens = maxTokens; self.seed = seed
    }
}

/// One sampled response with its judgment and token count.
public struct PolicySample: Codable, Sendable, Equatable {
    public var text: String
    public var tokens: Int
    public var judgment: Judgment
}

/// K responses per query from a model, on any inference engine; every sample is stored as soon
/// as its batch finishes (keyed by model, query, sample index and settings), so opcot, ppcot
/// and srs share samples and a rerun decodes only what is missing.
public struct PolicySampler {
    public let engine: InferenceEngine
    public let context: BuildContext

    public init(engine: InferenceEngine, context: BuildContext) { self.engine = engine; self.context = context }

    func key(_ q: Query, _ k: Int, _ s: SamplingSettings) -> String {
        ContentKey.of("sample-v1", engine.fingerprint, q.key, "\(k)", "\(s.temperature)", "\(s.topP)", "\(s.maxTokens)", "\(s.seed)")
    }

    public func samples(_ queries: [Query], _ s: SamplingSettings) async throws -> [[PolicySample]] {
        let units = queries.indices.flatMap { qi in (0..<s.samples).map { (qi, $0) } }
        let keys = units.map { key(queries[$0.0], $0.1, s) }
        let events = context.events
        // Batches of similar prompt lengths pad less; a query's samples stay together and share
        // their prefill. A sample does not depend on its batch, so the order changes nothing else.
        let stored: [Completion] = try await context.store.cachedBatches(
            "sample", keys: keys, batchSize: engine.chunkSize,
            batchOrder: { (queries[units[$0].0].prompt.count, $0) < (queries[units[$1].0].prompt.count, $1) },
            started: { events(.stage("sample", total: $0, done: $1)) }, advanced: { events(.advanced($0)) }
        ) { rows in
            // Each sample's seed comes from its key.
            try await engine.complete(rows.map { i in
                CompletionRequest(messages: [.user(queries[units[i].0].prompt)], maxTokens: s.maxTokens,
                                  sampling: SamplingParameters(temperature: s.temperature, topP: s.topP, seed: ContentKey.seed(keys[i])))
            })
        }
        let judgments = try await context.judgeAll("judge samples", units.indices.map { (queries[units[$0].0], stored[$0].text) })
        var out = [[PolicySample]](repeating: [], count: queries.count)
        for (i, u) in units.enumerated() { out[u.0].append(PolicySample(text: stored[i].text, tokens: stored[i].tokens, judgment: judgments[i])) }
        return out
    }
}
