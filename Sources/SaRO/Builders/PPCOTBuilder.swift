import Foundation
import Jobs
import Judges

/// PP-COT, process-level preference pairs.
/// - Reflection pairs: for a flawed chain (a policy sample the judge rejected, or a teacher's
///   contrastive chain when the policy made none) with earliest faulty step k, the prompt is
///   the request plus steps 1..k-1 as a partial assistant turn; chosen is the teacher's
///   continuation ("Wait, ..." + corrected reasoning + right answer); rejected is the
///   original steps k..n and answer.
/// - Early-versus-late pairs: from a good teacher chain whose reflection is at step r > 2,
///   the prompt holds steps 1 and 2 (the request restated, and the verdict on its intent);
///   chosen reflects at once (reflection + steps after it); rejected goes through steps
///   3..r-1 (the policy lookup) first. Same outcome, earlier reflection preferred. The verdict
///   stays in the shared prefix: as part of the rejected side it was pushed down with it, and
///   on SmolLM2-135M SRPO then wrote the benign verdict for most harmful requests (HarmBench
///   ASR 66.7% against 53.3% with the verdict shared, same data otherwise).
public struct PPCOTBuilder {
    public let context: BuildContext
    public let sampler: PolicySampler?
    public let teacher: Teacher
    /// Early-versus-late pairs per reflection pair (0 for none).
    public var earlyRatio: Double = 0.5
    /// Flawed chains used per prompt at most.
    public var chainsPerPrompt = 1

    public init(context: BuildContext, sampler: PolicySampler?, teacher: Teacher) {
        self.context = context; self.sampler = sampler; self.teacher = teacher
    }

    public func build(queries: [Query], settings: SamplingSettings, output: String) async throws -> BuildReport {
        var report = BuildReport(builder: "ppcot", output: output)
        let format = context.format
        let samples = try await sampler?.samples(queries, settings) ?? queries.map { _ in [] }
        // Flawed chains: well-formed policy samples with the wrong outcome.
        var flawed: [(Int, String, String)] = []   // (query, chain, origin)
        var withoutFlawed: [Int] = []
        for (i, q) in queries.enumerated() {
            let bad = samples[i].filter { context.wrongOutcome($0.judgment, kind: q.kind) && !$0.judgment.formatError }
            if bad.isEmpty { withoutFlawed.append(i) }
            for s in bad.prefix(chainsPerPrompt) { flawed.append((i, s.text, "policy")) }
        }
        let contrastive = try await context.write("teacher flawed", withoutFlawed.map { .contrastive(queries[$0]) }, teacher: teacher)
        for (i, text) in zip(withoutFlawed, contrastive) { flawed.append((i, text, "teacher")) }
        flawed.sort { $0.0 < $1.0 }

        // Split each chain at its earliest faulty step; ask the teacher for the correction.
        var cuts: [(q: Int, prefix: [String], rest: [String], answer: String, origin: String)] = []
        var noStepVerdict = 0, cutAtDecision = 0
        for (i, chain, origin) in flawed {
            let parts = format.parse(chain)
            guard parts.wellFormed, let reasoning = parts.reasoning else { report.reject(.flawedChainMalformed); continue }
            let steps = ResponseFormat.steps(of: reasoning)
            guard steps.count >= 2 else { report.reject(.flawedChainTooShort); continue }
            // The earliest faulty step; step 1 restates the request and stays in the prefix. A
            // chain the step judge finds no fault in (or cannot read) went wrong at its decision.
            let verdict = try await context.steps(queries[i], steps)
            if verdict.isNoVerdict { noStepVerdict += 1 }
            let k = verdict.faultyStep.map { max($0, 1) } ?? steps.count - 1
            if k == steps.count - 1 { cutAtDecision += 1 }
            cuts.append((i, Array(steps[..<k]), Array(steps[k...]), parts.answer, origin))
        }
        let corrections = try await context.write("teacher reflection", cuts.map { .reflection(queries[$0.q], prefix: $0.prefix) }, teacher: teacher)

        var records: [PreferenceRecord] = []
        for (c, continuation) in zip(cuts, corrections) {
            let q = queries[c.q]
            let prefixText = format.open + "\n" + c.prefix.map { $0 + "\n\n" }.joined()
            let full = prefixText + continuation
            // The corrected chain must itself pass the judge.
            if let reason = context.rejection(try await context.judge(q, full), kind: q.kind) { report.reject(.correction(reason)); continue }
            let rejected = c.rest.joined(separator: "\n\n") + "\n" + format.close + "\n\n" + c.answer
            var meta = RecordMeta(query: q, teacher: teacher.id.prefix(12).description, step: c.prefix.count + 1, pairType: "reflection", judge: context.judge.name)
            meta.chosenFrom = "teacher"; meta.rejectedFrom = c.origin
            records.append(PreferenceRecord(prompt: [Message(role: "user", content: q.prompt), Message(role: "assistant", content: prefixText)],
                                            chosen: [Message(role: "assistant", content: continuation)],
                                            rejected: [Message(role: "assistant", content: rejected)], meta: meta))
            report.wrote(q.kind.rawValue)
        }
        let reflectionPairs = records.count
        report.extra["reflection_pairs"] = Double(reflectionPairs)
        report.extra["flawed_chains_no_step_verdict"] = Double(noStepVerdict)
        report.extra["flawed_chains_cut_at_decision"] = Double(cutAtDecision)

        // Early-versus-late reflection pairs from good teacher chains.
        let wanted = Int((Double(reflectionPairs) * earlyRatio).rounded())
        if wanted > 0 {
            let good = try await context.write("teacher reasoning", queries.map { .reasoning($0) }, teacher: teacher)
            var early = 0
            for (q, chain) in zip(queries, good) where early < wanted {
                let parts = format.parse(chain)
                guard parts.wellFormed, let reasoning = parts.reasoning else { continue }
                let steps = ResponseFormat.steps(of: reasoning)
                guard let r = RuleStepJudge.reflectionStep(steps), r >= 3 else { continue }
                guard context.rejection(try await context.judge(q, chain), kind: q.kind) == nil else { continue }
                let tail = steps[(r + 1)...].map { "\n\n" + $0 }.joined() + "\n" + format.close + "\n\n" + parts.answer
                let chosen = steps[r] + tail
                let rejected = steps[2..<r].joined(separator: "\n\n") + "\n\n" + steps[r] + tail
                var meta = RecordMeta(query: q, teacher: teacher.id.prefix(12).description, step: 3, pairType: "early_reflection", judge: context.judge.name)
                meta.chosenFrom = "teacher"; meta.rejectedFrom = "teacher"
                let shared = format.open + "\n" + steps[0] + "\n\n" + steps[1] + "\n\n"
                records.append(PreferenceRecord(prompt: [Message(role: "user", content: q.prompt), Message(role: "assistant", content: shared)],
                                                chosen: [Message(role: "assistant", content: chosen)], rejected: [Message(role: "assistant", content: rejected)], meta: meta))
                report.wrote(q.kind.rawValue)
                early += 1
            }
            report.extra["early_reflection_pairs"] = Double(early)
        }
        try context.save(records, builder: report.builder, to: output)
        return report
    }
}
