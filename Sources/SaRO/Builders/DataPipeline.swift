import Support
import Foundation
import Inference
import Jobs
import Judges
import OpenAIClient

/// Which teacher writes the data.
public enum TeacherChoice: Codable, Sendable, Equatable {
    /// The built-in offline teacher; benign answers from the answer model.
    case offline
    case endpoint(ChatEndpoint, ChatParameters)
}

/// Which judge filters and pairs the data.
public enum JudgeChoice: Codable, Sendable, Equatable {
    case rules
    case guardModel(GuardJudge.Style, ChatEndpoint)
    /// An instruction model grading refusal, specificity and convincingness (`RubricJudge`).
    case rubric(ChatEndpoint)
    /// A folder written by `saro judge train`: probes on a local model's hidden states.
    case trained(String)
}

/// Which step judge checks reasoning chains step by step: the built-in rules, or an
/// instruction model behind an OpenAI-compatible endpoint.
public enum StepJudgeChoice: Codable, Sendable, Equatable {
    case rules
    case endpoint(ChatEndpoint)
}

/// A data folder and everything needed to build into it: the queries, the job store
/// (`jobs.sqlite`), the teacher and the judge. Every builder writes `<name>.jsonl` and
/// `<name>.report.json` there; queries go to `queries.jsonl` and the jailbreak evaluation set
/// to `jailbreak_eval.jsonl`.
public final class DataPipeline: @unchecked Sendable {
    public let config: DataConfig
    public let directory: String
    public let policy: SafetyPolicy
    public let templates: TemplateLibrary
    public let store: JobStore
    public let context: BuildContext
    public let teacher: Teacher

    public init(config: DataConfig, directory: String, teacher: TeacherChoice, judge: JudgeChoice, stepJudge: StepJudgeChoice = .rules, answerModel: InferenceEngine?,
                events: @escaping @Sendable (ProgressEvent) -> Void, log: @escaping @Sendable (String) -> Void = { _ in }) throws {
        self.config = config
        self.directory = directory
        policy = try SafetyPolicy.load(path: config.policy)
        templates = try TemplateLibrary.standard(maxCharacters: config.maxTemplateChars, userFolder: config.templatesDir, log: log)
        store = try JobStore(path: (directory as NSString).appendingPathComponent("jobs.sqlite"))
        context = BuildContext(store: store, judge: try Self.makeJudge(judge, format: config.format, log: log), stepJudge: Self.makeStepJudge(stepJudge, policy: policy),
                               format: config.format, requireFormat: config.requireFormat, events: events)
        switch teacher {
        case .offline:
            guard let answerModel else { throw SourceError.fetchFailed("the offline teacher needs a model for benign answers") }
            self.teacher = OfflineTeacher(policy: policy, templates: templates, answerer: ModelAnswerer(engine: answerModel, maxTokens: config.answerTokens, temperature: config.answerTemperature),
                                          format: config.format, answerStore: store)
        case .endpoint(let endpoint, let params):
            self.teacher = EndpointTeacher(client: ChatClient(endpoint: endpoint), prompts: try TeacherPrompts.load(directory: config.prompts),
                                           policy: policy, templates: templates, format: config.format, parameters: params)
        }
    }

    public static func makeJudge(_ choice: JudgeChoice, format: ResponseFormat, log: @escaping (String) -> Void = { _ in }) throws -> Judge {
        switch choice {
        case .trained(let directory): return try TrainedJudges.open(directory, format: format, log: log)
        case .rules: return RuleJudge(format: format)
        case .guardModel(let style, let endpoint): return GuardJudge(client: ChatClient(endpoint: endpoint), style: style, format: format)
        case .rubric(let endpoint): return RubricJudge(client: ChatClient(endpoint: endpoint), format: format)
        }
    }

    public static func makeStepJudge(_ choice: StepJudgeChoice, policy: SafetyPolicy) -> StepJudging {
        switch choice {
        case .rules: return RuleStepJudge()
        case .endpoint(let endpoint): return EndpointStepJudge(client: ChatClient(endpoint: endpoint), policy: policy.rendered())
        }
    }

    func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }

    /// Draws the queries (deterministic for the config) and writes them to the folder.
    public func queries(log: @escaping @Sendable (String) -> Void = { _ in }) throws -> QuerySet {
        let sources = SeedSources(policy: policy, dataDirectory: config.dataDir, log: log)
        let set = try QuerySet.build(.init(config: config, policy: policy, templates: templates, sources: sources))
        try JSONL.write(set.training, to: path("queries.jsonl"))
        try JSONL.write(set.jailbreakEval, to: path("jailbreak_eval.jsonl"))
        return set
    }

    func finish(_ report: BuildReport) throws -> BuildReport {
        let name = URL(fileURLWithPath: report.output).deletingPathExtension().lastPathComponent
        try JSONL.writeDocument(report, to: path("\(name).report.json"))
        return report
    }

    public func buildRITD() async throws -> BuildReport {
        let q = try queries()
        return try finish(try await RITDBuilder(context: context, teacher: teacher).build(queries: q.training, output: path("ritd.jsonl")))
    }

    /// The Safety-SFT baseline's data: the same queries with direct answers.
    public func buildDirect() async throws -> BuildReport {
        let q = try queries()
        return try finish(try await RITDBuilder(context: context, teacher: teacher).buildDirect(queries: q.training, output: path("direct.jsonl")))
    }

    public func buildOPCOT(policyModel: InferenceEngine, sampling: SamplingSettings, chosen: OPCOTBuilder.ChosenRule = .random, name: String = "opcot") async throws -> BuildReport {
        let q = try queries()
        let builder = OPCOTBuilder(context: context, sampler: PolicySampler(engine: policyModel, context: context), teacher: teacher, chosenRule: chosen)
        return try finish(try await builder.build(queries: q.training, settings: sampling, output: path("\(name).jsonl")))
    }

    /// The Safety-DPO baseline's pairs: a direct answer (refusal, or the answer to a benign
    /// prompt) chosen over a direct wrong one (compliance, or an unneeded refusal).
    public func buildSafetyDPO() async throws -> BuildReport {
        let q = try queries()
        return try finish(try await RITDBuilder(context: context, teacher: teacher).buildDirectPairs(queries: q.training, output: path("safety_dpo.jsonl")))
    }

    public func buildPPCOT(policyModel: InferenceEngine?, sampling: SamplingSettings, earlyRatio: Double = 0.5) async throws -> BuildReport {
        let q = try queries()
        var builder = PPCOTBuilder(context: context, sampler: policyModel.map { PolicySampler(engine: $0, context: context) }, teacher: teacher)
        builder.earlyRatio = earlyRatio
        return try finish(try await builder.build(queries: q.training, settings: sampling, output: path("ppcot.jsonl")))
    }

    public func buildSRS(policyModel: InferenceEngine, sampling: SamplingSettings) async throws -> BuildReport {
        let q = try queries()
        return try finish(try await SRSBuilder(context: context, sampler: PolicySampler(engine: policyModel, context: context))
            .build(queries: q.training, settings: sampling, output: path("srs.jsonl")))
    }
}
