import Foundation
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

/// K responses per query from a model with the generation engine; every sample is stored as
/// soon as its batch finishes (keyed by model, query, sample index and settings), so opcot,
/// ppcot and srs share samples and a rerun decodes only what is missing.
public struct PolicySampler {
    public let model: LocalModel
    public let context: BuildContext

    public init(model: LocalModel, context: BuildContext) { self.model = model; self.context = context }

    func key(_ q: Query, _ k: Int, _ s: SamplingSettings) -> String {
        ContentKey.of("sample-v1", model.fingerprint, q.key, "\(k)", "\(s.temperature)", "\(s.topP)", "\(s.maxTokens)", "\(s.seed)")
    }

    public func samples(_ queries: [Query], _ s: SamplingSettings) async throws -> [[PolicySample]] {
        struct Stored: Codable { var text: String; var tokens: Int }
        let units = queries.indices.flatMap { qi in (0..<s.samples).map { (qi, $0) } }
        let keys = units.map { key(queries[$0.0], $0.1, s) }
        let present = try context.store.keys("sample")
        // Batches of similar prompt lengths pad less; a query's samples stay together and share
        // their prefill. A sample does not depend on its batch, so the order changes nothing else.
        let missing = units.indices.filter { !present.contains(keys[$0]) }
            .sorted { (queries[units[$0].0].prompt.count, $0) < (queries[units[$1].0].prompt.count, $1) }
        context.events(.stage("sample", total: units.count, done: units.count - missing.count))
        var start = 0
        let chunk = max(1, model.batchSize)
        while start < missing.count {
            let rows = Array(missing[start..<min(missing.count, start + chunk)])
            let convs = rows.map { [ChatMessage.user(queries[units[$0].0].prompt)] }
            let opts = rows.map { i -> GenerationOptions in
                // Each sample has its own stream, so a sample does not depend on its batch.
                let seed = ContentKey.seed(keys[i])
                return GenerationOptions(maxNewTokens: s.maxTokens, sampling: SamplingParameters(temperature: s.temperature, topP: s.topP, seed: seed))
            }
            let done = try model.complete(convs, options: opts)
            for (i, c) in zip(rows, done) { try context.store.set(Stored(text: c.text, tokens: c.tokens), "sample", keys[i]) }
            context.events(.advanced(rows.count))
            start += rows.count
        }
        let stored = try keys.map { k -> Stored in
            guard let v = try context.store.get(Stored.self, "sample", k) else { throw TeacherError.missingResult(task: "sample", query: k) }
            return v
        }
        let judgments = try await context.judgeAll("judge samples", units.indices.map { (queries[units[$0].0], stored[$0].text) })
        var out = [[PolicySample]](repeating: [], count: queries.count)
        for (i, u) in units.enumerated() { out[u.0].append(PolicySample(text: stored[i].text, tokens: stored[i].tokens, judgment: judgments[i])) }
        return out
    }
}
