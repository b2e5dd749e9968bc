import Foundation
import Testing
import Jobs
@testable import Judges
import OpenAIClient
import ScriptedOpenAIServer
@testable import SaRO

/// PP-COT cuts a flawed chain at its earliest faulty step, so the step that decided the wrong
/// outcome is the one the rejected side is penalised for; OP-COT's chosen side and SRS keep only
/// chains right at every step. Checked on every phrasing the offline teacher writes, on chains
/// written by hand in other wordings, and through an endpoint step judge.
@Suite struct StepJudgeTests {
    static let rules = RuleStepJudge()

    static func writers(_ q: Query, count: Int = 24) throws -> [ReasoningWriter] {
        let policy = try SafetyPolicy.builtIn()
        let lib = try TemplateLibrary.standard(maxCharacters: 1500)
        return (0..<count).map { ReasoningWriter(policy: policy, templates: lib, key: String(format: "%016llx", UInt64($0) &* 0x9E37_79B9_7F4A_7C15)) }
    }

    static func queries() throws -> [Query] { try Fixtures.queries(Fixtures.config(harmful: 6, jailbreak: 6, benign: 12)).training }

    @Test func goodChainsAreSound() throws {
        for q in try Self.queries() {
            for var w in try Self.writers(q) {
                let steps = w.goodSteps(q)
                #expect(Self.rules.verdict(steps: steps, kind: q.kind) == .sound, "\(q.kind): \(steps)")
            }
        }
    }

    @Test func driftingChainsFailAtTheirFirstStep() throws {
        for q in try Self.queries() {
            for var w in try Self.writers(q) {
                let steps = w.drifting(q)
                #expect(Self.rules.verdict(steps: steps, kind: q.kind).faultyStep == 1, "\(q.kind): \(steps)")
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
                #expect(Self.rules.verdict(steps: asBenign, kind: .harmful).faultyStep == 1, "\(asBenign)")
                let asHarmful = [bw.understand(b), hw.intent(harmful), hw.policyCheck(harmful), hw.reflection(harmful), hw.decision(harmful)]
                #expect(Self.rules.verdict(steps: asHarmful, kind: .benign).faultyStep == 1, "\(asHarmful)")
            }
        }
    }

    struct LabelledChain: Decodable {
        var kind: RequestKind
        var request: String
        var steps: [String]
        /// 1-based; nil for a chain right at every step.
        var firstWrongStep: Int?
        enum CodingKeys: String, CodingKey { case kind, request, steps, firstWrongStep = "first_wrong_step" }

        var expected: StepVerdict? { firstWrongStep.map { .faulty(step: $0 - 1, reason: "") } ?? .sound }
        func agrees(_ v: StepVerdict) -> Bool { firstWrongStep.map { v.faultyStep == $0 - 1 } ?? (v == .sound) }
    }

    static func chains(_ name: String) throws -> [LabelledChain] {
        let url = try #require(Bundle.module.url(forResource: "StepChains/\(name)", withExtension: "jsonl"))
        return try JSONL.read(LabelledChain.self, url.path)
    }

    /// Chains in wordings the rules were tuned on (not the offline teacher's): all read right.
    @Test func handWrittenChainsInOtherWordings() throws {
        for c in try Self.chains("development") {
            let v = Self.rules.verdict(steps: c.steps, kind: c.kind)
            #expect(c.agrees(v), "\(c.request): expected step \(c.firstWrongStep.map(String.init) ?? "none"), got \(v)")
        }
    }

    /// Chains the rules were never tuned on: the agreement measured when they were first run
    /// (14 of 16) must hold. The two misses are drifts in words no cue knows ("this seems like a
    /// safety question", "the usual restrictions don't apply"): the rules then blame the later
    /// step that starts to comply. Such wordings are what the endpoint step judge is for.
    @Test func heldOutChainsKeepTheirMeasuredAgreement() throws {
        let chains = try Self.chains("held-out")
        let agreed = chains.filter { $0.agrees(Self.rules.verdict(steps: $0.steps, kind: $0.kind)) }.count
        #expect(chains.count == 16)
        #expect(agreed >= 14, "held-out agreement \(agreed)/\(chains.count)")
    }

    /// Negation and concession, one at a time.
    @Test func negationAndConcessionFlipOrDropACue() {
        #expect(RuleStepJudge.stance("This is dangerous.").0 < 0)
        #expect(RuleStepJudge.stance("This is not dangerous.").0 > 0)
        #expect(RuleStepJudge.stance("There is no need to refuse.").0 > 0)
        #expect(RuleStepJudge.stance("It sounds dangerous, but it is an ordinary cooking question.").0 > 0)
        #expect(RuleStepJudge.stance("It looks like an ordinary question, but it is clearly harmful.").0 < 0)
        #expect(RuleStepJudge.stance("Although it is risky, this is an everyday question.").0 > 0)
        #expect(RuleStepJudge.stance("Decision: refuse, but stay useful by offering first aid basics.").0 < 0)
        #expect(RuleStepJudge.stance("I won't help, but I can share safety resources instead.").0 < 0)
        #expect(RuleStepJudge.stance("The user said hello.").0 == 0)
        #expect(Self.rules.verdict(steps: ["The user said hello.", "They want a reply."], kind: .benign).isNoVerdict)
    }

    /// OP-COT's chosen side and SRS keep only samples right at every step: a refusal after a
    /// benign verdict on a harmful request (or an answer after a harmful verdict on a benign
    /// one) has the right outcome and the wrong process.
    @Test func aRightOutcomeAfterAWrongVerdictIsNotUsable() async throws {
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
            #expect(try await context.screen(sample(hw.goodSteps(harmful), refusal, refused), harmful) == (nil, false))
            #expect(try await context.screen(sample(hw.goodSteps(harmful), refusal, unsafe), harmful).rejection?.key == "unsafe")
            let luckyRefusal = [hw.understand(harmful), bw.intent(benign), hw.policyCheck(harmful), hw.reflection(harmful), hw.decision(harmful)]
            #expect(try await context.screen(sample(luckyRefusal, refusal, refused), harmful).rejection?.key == "flawed_process", "\(luckyRefusal)")

            #expect(try await context.screen(sample(bw.goodSteps(benign), "Here is the answer.", answered), benign) == (nil, false))
            let luckyAnswer = [bw.understand(benign), hw.intent(harmful), bw.policyCheck(benign), bw.reflection(benign), bw.decision(benign)]
            #expect(try await context.screen(sample(luckyAnswer, "Here is the answer.", answered), benign).rejection?.key == "flawed_process", "\(luckyAnswer)")
        }
        // A chain the rules cannot read stays usable and is marked.
        #expect(try await context.screen(sample(["The user said hello.", "They want a reply."], "Hello!", answered), benign) == (nil, true))
    }

    @Test func endpointRepliesParse() {
        #expect(EndpointStepJudge.parse("First wrong step: 3\nReason: calls the request ordinary.", stepCount: 5) == .faulty(step: 2, reason: "calls the request ordinary."))
        #expect(EndpointStepJudge.parse("**First wrong step:** [2]\n**Reason:** x", stepCount: 5).faultyStep == 1)
        #expect(EndpointStepJudge.parse("First wrong step: none\nReason: every step is right.", stepCount: 5) == .sound)
        #expect(EndpointStepJudge.parse("First wrong step: 9\nReason: x", stepCount: 5).isNoVerdict)
        #expect(EndpointStepJudge.parse("I think the chain is fine.", stepCount: 5).isNoVerdict)
    }

    /// PP-COT with an endpoint step judge: the cut is where the judge says, the judge sees the
    /// policy, the request's kind and the numbered steps, replies that do not parse are counted
    /// as no verdict (those chains are cut at the decision), and a rerun asks nothing again.
    @Test func ppcotCutsWhereTheEndpointStepJudgeSays() async throws {
        let server = ScriptedOpenAIServer { _, body in
            let text = ScriptedOpenAIServer.userText(body)
            return text.contains("benign: the right outcome") ? .chat("Not sure.") : .chat("First wrong step: 3\nReason: it starts to help.")
        }
        try await server.run { url in
            let c = Fixtures.config(harmful: 3, jailbreak: 0, benign: 3)
            let (store, queries, teacher) = try Fixtures.offline("ppcot-step-endpoint", c)
            let endpoint = ChatEndpoint(baseURL: url.absoluteString, model: "step-judge", apiKeyEnv: nil, backoffSeconds: 0.01)
            let stepJudge = EndpointStepJudge(client: ChatClient(endpoint: endpoint), policy: try SafetyPolicy.builtIn().rendered())
            let context = BuildContext(store: store, judge: RuleJudge(), stepJudge: stepJudge, format: .standard, requireFormat: true)
            var builder = PPCOTBuilder(context: context, sampler: nil, teacher: teacher)
            builder.earlyRatio = 0
            let out = Fixtures.dir("ppcot-step-endpoint") + "/ppcot.jsonl"
            let report = try await builder.build(queries: queries, settings: SamplingSettings(samples: 1, temperature: 1, topP: 1, maxTokens: 8, seed: 0), output: out)
            let records = try JSONL.read(PreferenceRecord.self, out)
            #expect(server.requestCount == queries.count)
            #expect(report.extra["flawed_chains_no_step_verdict"] == 3)
            #expect(records.filter { $0.meta.kind != "benign" }.allSatisfy { $0.meta.step == 3 })
            #expect(records.filter { $0.meta.kind != "benign" }.count == 3)
            let system = (server.requests[0]["messages"] as! [[String: Any]])[0]["content"] as! String
            let user = ScriptedOpenAIServer.userText(server.requests[0])
            #expect(system.contains("S9 Indiscriminate weapons") && user.contains("[1] ") && user.contains("[2] "))
            let again = try await builder.build(queries: queries, settings: SamplingSettings(samples: 1, temperature: 1, topP: 1, maxTokens: 8, seed: 0), output: out)
            #expect(again == report && server.requestCount == queries.count)
        }
    }
}
