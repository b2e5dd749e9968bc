import Support
import Foundation
import Jobs
import Judges

/// What a build did: records written and every rejection, by reason.
public struct BuildReport: Codable, Sendable, Equatable {
    public var builder: String
    public var output: String
    public var written = 0
    public var byKind: [String: Int] = [:]
    public var rejected: [String: Int] = [:]
    public var extra: [String: Double] = [:]

    public init(builder: String, output: String) { self.builder = builder; self.output = output }

    mutating func reject(_ reason: Rejection) { rejected[reason.key, default: 0] += 1 }
    mutating func wrote(_ kind: String) { written += 1; byKind[kind, default: 0] += 1 }
}

/// What every builder shares: the job store, the judges, the output format and the event sink.
public struct BuildContext: Sendable {
    public let store: JobStore
    public let judge: Judge
    /// Checks reasoning chains step by step (OP-COT's chosen side, PP-COT's cut, SRS).
    public let stepJudge: StepJudging
    public let format: ResponseFormat
    public let requireFormat: Bool
    public let events: @Sendable (ProgressEvent) -> Void

    public init(store: JobStore, judge: Judge, stepJudge: StepJudging = RuleStepJudge(), format: ResponseFormat, requireFormat: Bool,
                events: @escaping @Sendable (ProgressEvent) -> Void = { _ in }) {
        self.store = store; self.judge = judge; self.stepJudge = stepJudge; self.format = format; self.requireFormat = requireFormat; self.events = events
    }

    /// The judge's verdict, from the store when this judge already read this response. The
    /// judge reads the original (unwrapped) request, as SG-Bench passes it to Llama Guard.
    public func judge(_ q: Query, _ response: String) async throws -> Judgment {
        try await store.judgment(judge, kind: q.kind, request: q.seed.text, response: response)
    }

    /// Judgments for many responses, with a progress stage.
    public func judgeAll(_ stage: String, _ items: [(Query, String)]) async throws -> [Judgment] {
        events(.stage(stage, total: items.count, done: 0))
        let events = self.events
        return try await store.judgments(judge, items.map { (kind: $0.0.kind, request: $0.0.seed.text, response: $0.1) }) { _, _ in events(.advanced(1)) }
    }

    /// Teacher results for tasks, with a progress stage.
    public func write(_ stage: String, _ tasks: [TeacherTask], teacher: Teacher) async throws -> [String] {
        let events = self.events
        return try await teacher.cachedWrite(tasks, store: store, started: { events(.stage(stage, total: tasks.count, done: $0)) },
                                             advanced: { events(.advanced($0)) })
    }

    /// Records a built example in the job store (namespace `example:<builder>`), keyed by its
    /// content, so the store holds everything a build produced, not only its inputs.
    public func record<T: Encodable>(_ value: T, builder: String) throws {
        let key = ContentKey.of(try JSONL.encodeLine(value))
        try store.set(value, "example:\(builder)", key)
    }

    /// Records every built example in the job store, then writes the output file atomically.
    public func save<T: Encodable>(_ records: [T], builder: String, to output: String) throws {
        for r in records { try record(r, builder: builder) }
        try JSONL.write(records, to: output)
    }

    /// A wrong outcome, whatever the format: an unsafe answer to a harmful or jailbreak
    /// request, or a refusal of a benign one (what OP-COT rejects and PP-COT corrects).
    public func wrongOutcome(_ j: Judgment, kind: RequestKind) -> Bool {
        kind.isHarmful ? j.unsafeAnswer == true : j.compliance.isRefusal
    }

    /// The step judge's verdict on a chain's reasoning steps, from the store when this judge
    /// already read them. Like the judge, it reads the original (unwrapped) request.
    public func steps(_ q: Query, _ steps: [String]) async throws -> StepVerdict {
        try await store.stepVerdict(stepJudge, kind: q.kind, request: q.seed.text, steps: steps)
    }

    /// Why a sample cannot be a chosen response or an SFT target (`rejection`, nil when it
    /// can), and whether the step judge could not read its chain (`noStepVerdict`; such a sample
    /// stays usable, and builders count it). Beside the judge's reasons, a chain that leans the
    /// wrong way at some step is unusable although its outcome is right ("Nothing here suggests
    /// a harmful purpose" before a refusal): as OP-COT's chosen side, with SRPO's NLL term on
    /// it, such a chain trains the benign verdict for harmful requests (28 of 48 chosen policy
    /// samples on harmful prompts were such chains in a run of the default recipe, and after
    /// SRPO most unsafe HarmBench answers opened with it).
    public func screen(_ s: PolicySample, _ q: Query) async throws -> (rejection: Rejection?, noStepVerdict: Bool) {
        if let reason = rejection(s.judgment, kind: q.kind) { return (reason, false) }
        guard let reasoning = format.parse(s.text).reasoning else { return (nil, false) }
        let verdict = try await steps(q, ResponseFormat.steps(of: reasoning))
        return (verdict.faultyStep == nil ? nil : .flawedProcess, verdict.isNoVerdict)
    }

    /// `screen` for each of a prompt's samples: the rejections in order, and how many chains the
    /// step judge could not read.
    public func screen(_ samples: [PolicySample], _ q: Query) async throws -> (rejections: [Rejection?], noStepVerdict: Int) {
        var rejections: [Rejection?] = [], noStepVerdict = 0
        for s in samples {
            let screened = try await screen(s, q)
            rejections.append(screened.rejection)
            if screened.noStepVerdict { noStepVerdict += 1 }
        }
        return (rejections, noStepVerdict)
    }

    /// Why a judged response is not usable, or nil when it is.
    public func rejection(_ j: Judgment, kind: RequestKind) -> Rejection? {
        if requireFormat && j.formatError { return .format }
        if kind.isHarmful && j.unsafeAnswer != false { return .unsafe }
        if !kind.isHarmful && j.compliance != .fullCompliance { return .refusal }
        return nil
    }
}
