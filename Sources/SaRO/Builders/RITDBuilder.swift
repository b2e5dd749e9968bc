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
        var report = BuildReport(builder: "ritd", output: output)
        let responses = try await context.write("teacher", queries.map { .reasoning($0) }, teacher: teacher)
        let judgments = try await context.judgeAll("judge", Array(zip(queries, responses)))
        var records: [SFTRecord] = []
        for ((q, r), j) in zip(zip(queries, responses), judgments) {
            if let reason = context.rejection(j, kind: q.kind) { report.reject(reason); continue }
            let record = SFTRecord(messages: [Message(role: "user", content: q.prompt), Message(role: "assistant", content: r)],
                                   meta: RecordMeta(query: q, teacher: teacher.id.prefix(12).description, judge: j.judge))
            try context.store.set(record, "example:ritd", ContentKey.of(teacher.id, q.key))
            records.append(record)
            report.wrote(q.kind.rawValue)
        }
        try JSONL.write(records, to: output)
        return report
    }

    /// Direct-answer data for the Safety-SFT baseline: the same queries, answers without
    /// reasoning (refusals for harmful and jailbreak queries), filtered the same way.
    public func buildDirect(queries: [Query], output: String) async throws -> BuildReport {
        var report = BuildReport(builder: "direct", output: output)
        let responses = try await context.write("teacher", queries.map { .direct($0) }, teacher: teacher)
        let judgments = try await context.judgeAll("judge", Array(zip(queries, responses)))
        var records: [SFTRecord] = []
        for ((q, r), j) in zip(zip(queries, responses), judgments) {
            if let reason = context.rejection(j, kind: q.kind), reason != "format" { report.reject(reason); continue }
            records.append(SFTRecord(messages: [Message(role: "user", content: q.prompt), Message(role: "assistant", content: r)],
                                     meta: RecordMeta(query: q, teacher: teacher.id.prefix(12).description, judge: j.judge)))
            report.wrote(q.kind.rawValue)
        }
        try JSONL.write(records, to: output)
        return report
    }
}
