import Foundation
import Testing
import Jobs
import Judges
@testable import SaRO

/// PP-COT cuts a flawed chain at its earliest faulty step (`StepJudge.earliestFault`), so the
/// step that decided the wrong outcome is the one the rejected side is penalised for. Checked
/// on every phrasing the offline teacher writes.
@Suite struct StepJudgeTests {
    static func writers(_ q: Query, count: Int = 24) throws -> [ReasoningWriter] {
        let policy = try SafetyPolicy.builtIn()
        let lib = try TemplateLibrary.standard(maxCharacters: 1500)
        return (0..<count).map { ReasoningWriter(policy: policy, templates: lib, key: String(format: "%016llx", UInt64($0) &* 0x9E37_79B9_7F4A_7C15)) }
    }

    static func queries() throws -> [Query] { try Fixtures.queries(Fixtures.config(harmful: 6, jailbreak: 6, benign: 12)).training }

    @Test func goodChainsHaveNoFaultBeforeTheDecision() throws {
        for q in try Self.queries() {
            for var w in try Self.writers(q) {
                let steps = w.goodSteps(q)
                #expect(StepJudge.fault(steps: steps, kind: q.kind) == nil, "\(q.kind): \(steps)")
                #expect(StepJudge.earliestFault(steps: steps, kind: q.kind) == steps.count - 1)
            }
        }
    }

    @Test func driftingChainsFailAtTheirFirstStep() throws {
        for q in try Self.queries() {
            for var w in try Self.writers(q) {
                let steps = w.drifting(q)
                #expect(StepJudge.earliestFault(steps: steps, kind: q.kind) == 1, "\(q.kind): \(steps)")
            }
        }
    }

    /// A policy sample that reads a harmful request as benign (or a benign one as harmful)
    /// went wrong at that verdict, before it drifts to the wrong decision.
    @Test func theWrongVerdictIsTheFault() throws {
        let all = try Self.queries()
        let harmful = try #require(all.first { $0.kind == .harmful }), benign = all.filter { $0.kind == .benign }
        for b in benign {
            for (var hw, var bw) in zip(try Self.writers(harmful), try Self.writers(b)) {
                let asBenign = [hw.understand(harmful), bw.intent(b), bw.policyCheck(b), bw.reflection(b), bw.decision(b)]
                #expect(StepJudge.earliestFault(steps: asBenign, kind: .harmful) == 1, "\(asBenign)")
                let asHarmful = [bw.understand(b), hw.intent(harmful), hw.policyCheck(harmful), hw.reflection(harmful), hw.decision(harmful)]
                #expect(StepJudge.earliestFault(steps: asHarmful, kind: .benign) == 1, "\(asHarmful)")
            }
        }
    }

    /// OP-COT's chosen side and SRS keep only samples right at every step: a refusal after a
    /// benign verdict on a harmful request (or an answer after a harmful verdict on a benign
    /// one) has the right outcome and the wrong process.
    @Test func aRightOutcomeAfterAWrongVerdictIsNotUsable() throws {
        let all = try Self.queries()
        let harmful = try #require(all.first { $0.kind == .harmful }), benign = try #require(all.first { $0.kind == .benign })
        let context = BuildContext(store: try JobStore(path: Fixtures.dir("unusable") + "/jobs.sqlite"), judge: RuleJudge(), format: .standard, requireFormat: true)
        let refused = Judgment(compliance: .fullRefusal, unsafeAnswer: false, formatError: false, judge: "rules")
        let answered = Judgment(compliance: .fullCompliance, unsafeAnswer: nil, formatError: false, judge: "rules")
        let unsafe = Judgment(compliance: .fullCompliance, unsafeAnswer: true, formatError: false, judge: "rules")
        func sample(_ steps: [String], _ answer: String, _ j: Judgment) -> PolicySample {
            PolicySample(text: "<think>\n" + steps.joined(separator: "\n\n") + "\n</think>\n\n" + answer, tokens: 1, judgment: j)
        }
        for (var hw, var bw) in zip(try Self.writers(harmful, count: 8), try Self.writers(benign, count: 8)) {
            let refusal = hw.refusal(harmful)
            #expect(context.unusable(sample(hw.goodSteps(harmful), refusal, refused), kind: .harmful) == nil)
            #expect(context.unusable(sample(hw.goodSteps(harmful), refusal, unsafe), kind: .harmful)?.key == "unsafe")
            let luckyRefusal = [hw.understand(harmful), bw.intent(benign), hw.policyCheck(harmful), hw.reflection(harmful), hw.decision(harmful)]
            #expect(context.unusable(sample(luckyRefusal, refusal, refused), kind: .harmful)?.key == "flawed_process", "\(luckyRefusal)")

            #expect(context.unusable(sample(bw.goodSteps(benign), "Here is the answer.", answered), kind: .benign) == nil)
            let luckyAnswer = [bw.understand(benign), hw.intent(harmful), bw.policyCheck(benign), bw.reflection(benign), bw.decision(benign)]
            #expect(context.unusable(sample(luckyAnswer, "Here is the answer.", answered), kind: .benign)?.key == "flawed_process", "\(luckyAnswer)")
        }
    }
}
