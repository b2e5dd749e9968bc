import Foundation
import Testing
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
                #expect(StepJudge.earliestFault(steps: steps, kind: q.kind) == steps.count - 1, "\(q.kind): \(steps)")
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
}
