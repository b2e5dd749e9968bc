import Foundation
import Jobs
import Judges

/// RIT-D: each query goes to the teacher for a policy-guided reasoning response; the judge
/// keeps safe answers to harmful and jailbreak queries, non-refusing answers to benign ones,
/// and (by default) only well-formed reasoning blocks.
public struct RITDBuilder {
    public let context: BuildContext
    public let teacher: Teacher

    public init(context: BuildContext, teacher: Teacher) { self.context = context; self.teacher = teacher }

    public func build(queries: [Query], output: String) async throws -> BuildReport {
        try await buildSFT(queries: queries, task: { .reasoning($0) }, builder: "ritd", requireReasoning: true, output: output)
    }

    /// Direct-answer data for the Safety-SFT baseline: the same queries, answers without
    /// reasoning (refusals for harmful and jailbreak queries), filtered the same way.
    public func buildDirect(queries: [Query], output: String) async throws -> BuildReport {
        try await buildSFT(queries: queries, task: { .direct($0) }, builder: "direct", requireReasoning: false, output: output)
    }

    /// Teacher responses judged and kept as SFT records; a missing reasoning block is a
    /// rejection only where reasoning is the point.
    func buildSFT(queries: [Query], task: (Query) -> TeacherTask, builder: String, requireReasoning: Bool, output: String) async throws -> BuildReport {
        var report = BuildReport(builder: builder, output: output)
        let responses = try await context.write("teacher", queries.map(task), teacher: teacher)
        let judgments = try await context.judgeAll("judge", Array(zip(queries, responses)))
        var records: [SFTRecord] = []
        for ((q, r), j) in zip(zip(queries, responses), judgments) {
            if let reason = context.rejection(j, kind: q.kind), requireReasoning || reason != .format { report.reject(reason); continue }
            records.append(SFTRecord(messages: [Message(role: "user", content: q.prompt), Message(role: "assistant", content: r)],
                                     meta: RecordMeta(query: q, teacher: teacher.id.prefix(12).description, judge: j.judge)))
            report.wrote(q.kind.rawValue)
        }
        try context.save(records, builder: report.builder, to: output)
        return report
    }

    public func buildDirectPairs(queries: [Query], output: String) async throws -> BuildReport {
        var report = BuildReport(builder: "safety_dpo", output: output)
        let good = try await context.write("teacher direct", queries.map { .direct($0) }, teacher: teacher)
        let bad = try await context.write("teacher contrastive", queries.map { .contrastive($0) }, teacher: teacher)
        var records: [PreferenceRecord] = []
        for (i, q) in queries.enumerated() {
            // Direct answers only: the contrastive response's reasoning block is dropped.
            let rejected = context.format.parse(bad[i]).answer
            let chosenJudgment = try await context.judge(q, good[i]), rejectedJudgment = try await context.judge(q, rejected)
            if let reason = context.rejection(chosenJudgment, kind: q.kind), reason != .format { report.reject(.chosen(reason)); continue }
            if !context.wrongOutcome(rejectedJudgment, kind: q.kind) { report.reject(.rejectedNotWrong); continue }
            var meta = RecordMeta(query: q, teacher: teacher.id.prefix(12).description, pairType: "direct", judge: context.judge.name)
            meta.chosenFrom = "teacher"; meta.rejectedFrom = "teacher"
            records.append(PreferenceRecord(prompt: [Message(role: "user", content: q.prompt)], chosen: [Message(role: "assistant", content: good[i])],
                                            rejected: [Message(role: "assistant", content: rejected)], meta: meta))
            report.wrote(q.kind.rawValue)
        }
        try context.save(records, builder: report.builder, to: output)
        return report
    }
}
