import Support
import Foundation
import Jobs
import Judges

/// The built-in teacher: no network. It writes the reasoning with `ReasoningWriter`, refusals
/// and safe alternatives from the policy, and takes answers to benign prompts from an
/// `Answerer` (the base model), so the main job runs offline.
public struct OfflineTeacher: Teacher {
    public let policy: SafetyPolicy
    public let templates: TemplateLibrary
    public let answerer: Answerer
    public let format: ResponseFormat

    /// Where benign answers are kept (by answerer and prompt), so that the reasoning, direct
    /// and reflection tasks of one prompt share one decoded answer.
    public var answerStore: JobStore?

    public init(policy: SafetyPolicy, templates: TemplateLibrary, answerer: Answerer, format: ResponseFormat = .standard, answerStore: JobStore? = nil) {
        self.policy = policy; self.templates = templates; self.answerer = answerer; self.format = format; self.answerStore = answerStore
        chunk = max(1, answerer.batchSize)
    }

    /// Answers for prompts: stored ones, and the rest from the answerer in one batch.
    func answers(_ prompts: [String]) async throws -> [String] {
        guard let store = answerStore else { return try await answerer.answer(prompts) }
        return try await store.cachedBatches("answer", keys: prompts.map { ContentKey.of(answerer.id, $0) }, batchSize: prompts.count) { missing in
            try await answerer.answer(missing.map { prompts[$0] })
        }
    }

    public var id: String { ContentKey.of("offline-teacher-v1", policy.fingerprint, answerer.id, format.open, format.close) }

    /// Tasks are handled in chunks of `chunk` (the answerer's batch): the benign answers of a
    /// chunk are decoded as one batch, then the chunk's results are delivered (and stored by
    /// the caller).
    public var chunk: Int

    public func write(_ tasks: [TeacherTask], deliver: @escaping @Sendable (Int, String) throws -> Void) async throws {
        var start = 0
        while start < tasks.count {
            let range = start..<min(tasks.count, start + chunk)
            let needAnswer = range.filter { i in
                switch tasks[i] {
                case .reasoning(let q), .direct(let q), .reflection(let q, _): return !q.kind.isHarmful
                case .contrastive: return false
                }
            }
            var answers: [Int: String] = [:]
            if !needAnswer.isEmpty {
                let got = try await self.answers(needAnswer.map { tasks[$0].query.prompt })
                for (i, a) in zip(needAnswer, got) { answers[i] = a }
            }
            for i in range { try deliver(i, compose(tasks[i], answer: answers[i])) }
            start = range.upperBound
        }
    }

    func compose(_ task: TeacherTask, answer: String?) -> String {
        var w = ReasoningWriter(policy: policy, templates: templates, key: ContentKey.of(id, task.key))
        let q = task.query
        switch task {
        case .reasoning:
            let steps = w.goodSteps(q)
            return format.render(reasoning: steps.joined(separator: "\n\n"), answer: q.kind.isHarmful ? w.refusal(q) : (answer ?? ""))
        case .contrastive:
            let steps = w.drifting(q)
            return format.render(reasoning: steps.joined(separator: "\n\n"), answer: q.kind.isHarmful ? w.compliance(q) : w.unnecessaryRefusal())
        case .reflection(_, let prefix):
            let steps = w.correction(q, prefixCount: prefix.count)
            let final = q.kind.isHarmful ? w.refusal(q) : (answer ?? "")
            return steps.joined(separator: "\n\n") + "\n\(format.close)\n\n" + final
        case .direct:
            return q.kind.isHarmful ? w.refusal(q) : (answer ?? "")
        }
    }
}
