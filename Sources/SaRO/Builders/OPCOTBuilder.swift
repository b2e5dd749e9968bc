import Support
import Foundation
import Jobs
import Judges
import Tensor

/// OP-COT, outcome-level preference pairs: K samples per prompt from the RW model, judged.
/// Chosen: an accepted sample (safe and well formed; for benign prompts, not refusing) whose
/// reasoning does not lean the wrong way at any step (`BuildContext.screen`).
/// Rejected: an unsafe sample (harmful, jailbreak) or a refusal (benign). Where every sample
/// is good, the rejected response is a teacher-made contrastive one; where none is, the chosen
/// response is the teacher's reasoning response.
public struct OPCOTBuilder {
    public enum ChosenRule: String, Codable, Sendable { case random, shortest }

    public let context: BuildContext
    public let sampler: PolicySampler
    public let teacher: Teacher
    public var chosenRule: ChosenRule = .random

    public init(context: BuildContext, sampler: PolicySampler, teacher: Teacher, chosenRule: ChosenRule = .random) {
        self.context = context; self.sampler = sampler; self.teacher = teacher; self.chosenRule = chosenRule
    }

    public func build(queries: [Query], settings: SamplingSettings, output: String) async throws -> BuildReport {
        var report = BuildReport(builder: "opcot", output: output)
        let samples = try await sampler.samples(queries, settings)
        var needChosen: [Int] = [], needRejected: [Int] = []
        var good: [[PolicySample]] = [], bad: [[PolicySample]] = []
        var flawedProcess = 0, noStepVerdict = 0
        for (i, q) in queries.enumerated() {
            let (reasons, unread) = try await context.screen(samples[i], q)
            noStepVerdict += unread
            good.append(zip(samples[i], reasons).filter { $0.1 == nil }.map(\.0))
            flawedProcess += reasons.filter { $0 == .flawedProcess }.count
            bad.append(samples[i].filter { context.wrongOutcome($0.judgment, kind: q.kind) })
            if good[i].isEmpty { needChosen.append(i) }
            if bad[i].isEmpty { needRejected.append(i) }
        }
        report.extra["prompts_all_good"] = Double(needRejected.count)
        report.extra["prompts_none_good"] = Double(needChosen.count)
        report.extra["samples_right_outcome_flawed_process"] = Double(flawedProcess)
        report.extra["samples_no_step_verdict"] = Double(noStepVerdict)
        report.extra["sample_accept_rate"] = Double(good.map(\.count).reduce(0, +)) / Double(max(1, samples.map(\.count).reduce(0, +)))
        let teacherChosen = try await context.write("teacher chosen", needChosen.map { .reasoning(queries[$0]) }, teacher: teacher)
        let teacherRejected = try await context.write("teacher rejected", needRejected.map { .contrastive(queries[$0]) }, teacher: teacher)
        let chosenByTeacher = Dictionary(uniqueKeysWithValues: zip(needChosen, teacherChosen))
        let rejectedByTeacher = Dictionary(uniqueKeysWithValues: zip(needRejected, teacherRejected))
        // Teacher responses are judged too: a chosen one must pass, a rejected one must fail.
        var records: [PreferenceRecord] = []
        for (i, q) in queries.enumerated() {
            var rng = SplitMix64(seed: ContentKey.seed(q.key))
            var chosen: String, chosenFrom = "policy"
            if let g = pick(good[i], &rng) { chosen = g.text } else {
                chosen = chosenByTeacher[i]!
                chosenFrom = "teacher"
                if context.rejection(try await context.judge(q, chosen), kind: q.kind) != nil { report.reject(.teacherChosenNotAccepted); continue }
            }
            var rejected: String, rejectedFrom = "policy"
            if let b = bad[i].isEmpty ? nil : bad[i][Int(rng.next() % UInt64(bad[i].count))] { rejected = b.text } else {
                rejected = rejectedByTeacher[i]!
                rejectedFrom = "teacher"
                if context.rejection(try await context.judge(q, rejected), kind: q.kind) == nil { report.reject(.teacherRejectedNotBad); continue }
            }
            var meta = RecordMeta(query: q, teacher: teacher.id.prefix(12).description, pairType: "outcome", judge: context.judge.name)
            meta.chosenFrom = chosenFrom; meta.rejectedFrom = rejectedFrom
            records.append(PreferenceRecord(prompt: [Message(role: "user", content: q.prompt)], chosen: [Message(role: "assistant", content: chosen)],
                                            rejected: [Message(role: "assistant", content: rejected)], meta: meta))
            report.wrote(q.kind.rawValue)
        }
        try context.save(records, builder: report.builder, to: output)
        return report
    }

    func pick(_ items: [PolicySample], _ rng: inout SplitMix64) -> PolicySample? {
        guard !items.isEmpty else { return nil }
        switch chosenRule {
        case .shortest: return items.min { $0.tokens < $1.tokens }
        case .random: return items[Int(rng.next() % UInt64(items.count))]
        }
    }
}

/// Shortest Rejection Sampling: N samples per prompt, keep the shortest (in tokens) that the
/// judge accepts and whose reasoning does not lean the wrong way, as an SFT record. Prompts
/// with no accepted sample are counted.
public struct SRSBuilder {
    public let context: BuildContext
    public let sampler: PolicySampler
    public init(context: BuildContext, sampler: PolicySampler) { self.context = context; self.sampler = sampler }

    public func build(queries: [Query], settings: SamplingSettings, output: String) async throws -> BuildReport {
        var report = BuildReport(builder: "srs", output: output)
        let samples = try await sampler.samples(queries, settings)
        var records: [SFTRecord] = []
        var kept = 0, all = 0, allCount = 0, noStepVerdict = 0
        for (q, ss) in zip(queries, samples) {
            let (reasons, unread) = try await context.screen(ss, q)
            noStepVerdict += unread
            let accepted = zip(ss, reasons).filter { $0.1 == nil }.map(\.0)
            guard let best = accepted.min(by: { $0.tokens < $1.tokens }) else { report.reject(.noAcceptedSample); continue }
            kept += best.tokens; all += accepted.map(\.tokens).reduce(0, +); allCount += accepted.count
            var meta = RecordMeta(query: q, pairType: nil, judge: context.judge.name)
            meta.chosenFrom = "policy"
            records.append(SFTRecord(messages: [Message(role: "user", content: q.prompt), Message(role: "assistant", content: best.text)], meta: meta))
            report.wrote(q.kind.rawValue)
        }
        report.extra["mean_tokens_kept"] = records.isEmpty ? 0 : Double(kept) / Double(records.count)
        report.extra["mean_tokens_accepted"] = allCount == 0 ? 0 : Double(all) / Double(allCount)
        report.extra["samples_no_step_verdict"] = Double(noStepVerdict)
        try context.save(records, builder: report.builder, to: output)
        return report
    }
}
