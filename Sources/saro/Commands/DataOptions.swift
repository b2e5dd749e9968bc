import ArgumentParser
import Foundation
import Inference
import Jobs
import Judges
import Models
import OpenAIClient
import SaRO
import Tokenizers

/// Options every `saro data build` subcommand shares: where, what, which teacher and judge.
struct DataBuildOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Data folder: outputs, reports and the job store (jobs.sqlite) go here.", valueName: "dir"))
    var out = "data"
    @Option(help: ArgumentHelp("YAML with data settings (or a recipe with a data: section). Keys: \(DataConfig.keys.joined(separator: ", ")).", valueName: "file"))
    var config: String?
    @Option(help: "Harmful queries (overrides the config).") var harmful: Int?
    @Option(help: "Jailbreak queries (overrides the config).") var jailbreak: Int?
    @Option(help: "Benign queries (overrides the config).") var benign: Int?
    @Option(help: ArgumentHelp("Held-out template families, comma-separated (overrides the config).", valueName: "families"))
    var heldOut: String?
    @Option(help: ArgumentHelp("Folder holding gsm8k/ and xstest/ in place of the copies saro ships.", valueName: "dir"))
    var dataDir: String?
    @Option(help: ArgumentHelp("Safety policy file (Markdown with YAML front matter). Default: Llama Guard 3's S1-S14.", valueName: "file"))
    var policy: String?
    @Option(help: ArgumentHelp("Folder of teacher prompt files replacing the built-in ones (see `saro data prompts`).", valueName: "dir"))
    var prompts: String?

    @Option(help: ArgumentHelp("Teacher: 'offline' (built in, benign answers from --answer-model) or the base URL of an OpenAI-compatible endpoint.", valueName: "offline|url"))
    var teacher = "offline"
    @Option(help: "Teacher model name at the endpoint.") var teacherModel = "default"
    @Option(help: "Environment variable holding the endpoint's API key.") var apiKeyEnv = "OPENAI_API_KEY"
    @Option(help: "Requests in flight at once (teacher and judge endpoints).") var concurrency = 4
    @Option(help: "Requests per minute at most (0: no limit).") var rpm: Double = 0
    @Option(help: "Seconds before a request is abandoned and retried.") var timeout: Double = 120
    @Option(help: "Retries after 429, 5xx, timeouts and network errors.") var retries = 4
    @Option(help: "Teacher sampling temperature (endpoint teacher).") var teacherTemperature: Double = 0.7
    @Option(help: "Teacher maximum tokens (endpoint teacher).") var teacherMaxTokens = 1024

    @OptionGroup var judgeOptions: JudgeOptions
    @Option(help: ArgumentHelp("Step judge for OP-COT, PP-COT and SRS chains: 'rules' (built in) or the base URL of an OpenAI-compatible endpoint serving an instruction model.", valueName: "rules|url"))
    var stepJudge = "rules"
    @Option(help: "Step judge model name at the endpoint.") var stepJudgeModel = "default"

    @Option(help: ArgumentHelp("Model answering benign prompts for the offline teacher (default: --model without its adapter).", valueName: "name-or-path"))
    var answerModel: String?
    @Option(help: "Rows decoded together by local models.") var batchSize = 8
    @Flag(help: "No progress bars.") var quiet = false

    func dataConfig() throws -> DataConfig {
        var c = try config.map(DataConfig.load(path:)) ?? DataConfig()
        if let v = harmful { c.harmful = v }
        if let v = jailbreak { c.jailbreak = v }
        if let v = benign { c.benign = v }
        if let v = heldOut { c.heldOutFamilies = v.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
        if let v = dataDir { c.dataDir = v }
        if let v = policy { c.policy = v }
        if let v = prompts { c.prompts = v }
        return c
    }

    /// An endpoint with this command's client limits; `keyEnv` names the variable with its key.
    func endpoint(_ url: String, model: String, keyEnv: String? = nil) -> ChatEndpoint {
        ChatEndpoint(baseURL: url, model: model, apiKeyEnv: keyEnv ?? apiKeyEnv, maxConcurrency: concurrency, timeoutSeconds: timeout, maxRetries: retries,
                     requestsPerMinute: rpm > 0 ? rpm : nil)
    }

    func teacherChoice() -> TeacherChoice {
        teacher == "offline" ? .offline : .endpoint(endpoint(teacher, model: teacherModel), ChatParameters(temperature: teacherTemperature, maxTokens: teacherMaxTokens, seed: 0))
    }

    /// The judge endpoint takes its key from --judge-key-env, not the teacher's variable.
    func judgeChoice() throws -> JudgeChoice {
        try judgeOptions.choice { url, model, keyEnv in endpoint(url, model: model, keyEnv: keyEnv) }
    }

    func stepJudgeChoice() -> StepJudgeChoice {
        stepJudge == "rules" ? .rules : .endpoint(endpoint(stepJudge, model: stepJudgeModel, keyEnv: judgeOptions.judgeKeyEnv))
    }

    func pipeline(model: ModelOptions, progress: BuildProgress) throws -> DataPipeline {
        // Loaded on first use: nothing is loaded when every answer is stored.
        let answer = teacher == "offline" ? try EmbeddedEngine.open(answerModel ?? model.model, adapter: nil, batchSize: batchSize) {
            FileHandle.standardError.write(Data("saro: \($0)\n".utf8))
        } : nil
        return try DataPipeline(config: try dataConfig(), directory: out, teacher: teacherChoice(), judge: try judgeChoice(), stepJudge: stepJudgeChoice(), answerModel: answer,
                                events: progress.handle, log: { FileHandle.standardError.write(Data("saro: \($0)\n".utf8)) })
    }
}

/// Which judge reads responses: shared by data builds, evaluation and judge validation.
struct JudgeOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Judge: 'rules' (built in), 'llama-guard' or 'wildguard' (a guard model), 'rubric' (an instruction model grading harm from 0 to 1, StrongREJECT-style), 'trained' (the shipped probes on SmolLM2-135M-Instruct's hidden states) or a folder from `saro judge train`; endpoints need --judge-url and --judge-model.", valueName: "name|dir"))
    var judge = "rules"
    @Option(help: "Judge endpoint base URL.") var judgeUrl: String?
    @Option(help: "Judge model name at the endpoint.") var judgeModel = "default"
    @Option(help: "Environment variable holding the judge endpoint's API key.") var judgeKeyEnv = "OPENAI_API_KEY"
    @Option(help: ArgumentHelp("Requests sent to the judge endpoint at once; its server batches them (default: the command's --concurrency, else 4). Local judges read one response at a time.", valueName: "n"))
    var judgeConcurrency: Int?

    /// Rules or an endpoint judge; `endpoint(url, model, keyEnv)` builds the endpoint with the
    /// command's client limits (the defaults where it has none).
    func choice(endpoint: (String, String, String) -> ChatEndpoint = { ChatEndpoint(baseURL: $0, model: $1, apiKeyEnv: $2) }) throws -> JudgeChoice {
        guard judge != "rules" else { return .rules }
        if let folder = try TrainedJudges.folder(judge) { return .trained(folder) }
        guard ["llama-guard", "wildguard", "rubric"].contains(judge) else {
            throw ValidationError("--judge must be rules, llama-guard, wildguard, rubric, trained or a folder holding refusal.json or harm.json (from `saro judge train`); '\(judge)' is none of these")
        }
        guard let url = judgeUrl else { throw ValidationError("--judge \(judge) needs --judge-url") }
        var e = endpoint(url, judgeModel, judgeKeyEnv)
        if let n = judgeConcurrency {
            guard n >= 1 else { throw ValidationError("--judge-concurrency must be at least 1") }
            e.maxConcurrency = n
        }
        return GuardJudge.Style(rawValue: judge).map { .guardModel($0, e) } ?? .rubric(e)
    }

    /// The judge reading responses in `format` (the data config's think tags), built by the
    /// same function as the data builders' and the pipeline's judges.
    func makeJudge(format: ResponseFormat, log: @escaping (String) -> Void = { _ in }) throws -> Judge { try DataPipeline.makeJudge(try choice(), format: format, log: log) }
}

/// Sampling options of the builders that sample the policy model.
struct SamplingOptions: ParsableArguments {
    @Option(help: "Samples per prompt.") var samples: Int?
    @Option(help: "Sampling temperature.") var temperature: Float = 0.8
    @Option(help: "Nucleus sampling mass.") var topP: Float = 0.95
    @Option(help: "Maximum new tokens per sample.") var maxTokens = 384
    @Option(help: "Sampling seed.") var seed: UInt64 = 0

    func settings(defaultSamples: Int) -> SamplingSettings {
        SamplingSettings(samples: samples ?? defaultSamples, temperature: temperature, topP: topP, maxTokens: maxTokens, seed: seed)
    }
}

/// Build events drawn as progress bars (one per stage) on standard error.
final class BuildProgress: @unchecked Sendable {
    private let lock = NSLock()
    private var bar: ProgressBar?
    private var done = 0
    let quiet: Bool
    init(quiet: Bool) { self.quiet = quiet }

    func handle(_ e: ProgressEvent) {
        lock.lock(); defer { lock.unlock() }
        switch e {
        case .stage(let name, let total, let already):
            bar?.finish()
            let b = ProgressBar(label: name, quiet: quiet)
            b.start(total: total, done: already)
            bar = b; done = already
        case .advanced(let n):
            done += n
            bar?.update(done: done, status: "")
        case .note(let text):
            (bar ?? ProgressBar(label: "", quiet: quiet)).note(text)
        }
    }

    func finish() { lock.lock(); bar?.finish(); bar = nil; lock.unlock() }
}

