import Foundation
import Judges
import OpenAIClient
import SaRO
import Support
import Training
import Yams

public enum RecipeError: Error, CustomStringConvertible {
    case invalid(path: String, line: Int, reason: String)
    case stage(name: String, reason: String)

    public var description: String {
        switch self {
        case .invalid(let p, let l, let r): return "\(p):\(l): \(r)"
        case .stage(let n, let r): return "stage \(n): \(r)"
        }
    }
}

/// A SaRO run in one YAML file: the base model, the data, the teacher and judge, the training
/// settings of each stage, the baselines and the evaluation. `${VAR}` and `${VAR:-default}`
/// are replaced from the environment (endpoints and keys stay out of the file).
public struct Recipe: Sendable {
    /// A random model to start from instead of a pretrained one (the tokenizer comes from `model`).
    public struct Init: Codable, Sendable, Equatable {
        public var hiddenSize = 64, intermediateSize = 128, layers = 2, heads = 4, kvHeads = 2, maxPositions = 2048
        public var std: Float = 0.02
        public var seed: UInt64 = 0
        enum CodingKeys: String, CodingKey {
            case hiddenSize = "hidden_size", intermediateSize = "intermediate_size", layers, heads, kvHeads = "kv_heads"
            case maxPositions = "max_positions", std, seed
        }
    }

    public struct Sampling: Codable, Sendable, Equatable {
        public var samples = 4
        public var temperature: Float = 0.8
        public var topP: Float = 0.95
        public var maxTokens = 256
        public var batchSize = 8
        public var seed: UInt64 = 0
        enum CodingKeys: String, CodingKey { case samples, temperature, topP = "top_p", maxTokens = "max_tokens", batchSize = "batch_size", seed }
        var settings: SamplingSettings { SamplingSettings(samples: samples, temperature: temperature, topP: topP, maxTokens: maxTokens, seed: seed) }
    }

    public struct Evaluation: Codable, Sendable, Equatable {
        public var suite = "default"
        public var embeddings = true
        public var embeddingCount = 40
        public var batchSize = 8
        enum CodingKeys: String, CodingKey { case suite, embeddings, embeddingCount = "embedding_count", batchSize = "batch_size" }
    }

    /// Where the stages that generate run: saro's own engine (the default), or an
    /// OpenAI-compatible server that saro starts for each such stage from a command template
    /// and stops when the stage ends. Placeholders: `{model}` (the model folder), `{adapter}`
    /// (its LoRA adapter folder), `{name}` (the name requests use), `{port}` (a free port),
    /// `{saro}` (this saro executable), `{replica}` (the server's index when `replicas` > 1).
    /// For example, vLLM:
    /// `vllm serve {model} --port {port} --served-model-name {name}` and, for adapters,
    /// `vllm serve {model} --port {port} --enable-lora --lora-modules {name}={adapter}`.
    /// Server-backed evaluations score reference answers through the server's prompt
    /// log-probs (not measured where it has none) and skip the embedding analysis (servers
    /// show no hidden states).
    ///
    /// `urls` (instead of the commands) names servers the user already runs with the base model
    /// (vLLM, SGLang, `saro serve`). Every model of the run is the base with one adapter: a
    /// stage loads its adapter into them at run time under its own name, as vLLM does with
    /// `--enable-lora` and `VLLM_ALLOW_RUNTIME_LORA_UPDATING=True`, and unloads it when it ends.
    /// The RW model is the base with RW's adapter, and SaRO the base with RW's and SRPO's
    /// adapters stacked into one.
    public struct Engine: Codable, Sendable, Equatable, ConfigKeyed {
        /// The command for a model alone; nil: the embedded engine.
        public var start: String?
        /// The command for a model with a LoRA adapter.
        public var startAdapter: String?
        /// Base URLs (up to /v1) of servers already running the base model; requests spread over them.
        public var urls: [String]?
        /// The base model's name on those servers (default: the recipe's `model`, as vLLM names it).
        public var servedModel: String?
        /// The environment variable holding those servers' API key (vLLM's --api-key).
        public var apiKeyEnv: String?
        /// Servers to start per stage (`{replica}` is each one's index, from 0: for example
        /// `CUDA_VISIBLE_DEVICES={replica} vllm serve ...`); requests are spread over them.
        public var replicas = 1
        /// Requests in flight at once, seconds per request, retries, and seconds to wait for
        /// the server to answer after starting it.
        public var maxConcurrency = 8
        public var timeout: Double = 600
        public var maxRetries = 2
        public var startupTimeout: Double = 600
        enum CodingKeys: String, CodingKey, CaseIterable {
            case start, startAdapter = "start_adapter", urls, servedModel = "served_model", apiKeyEnv = "api_key_env"
            case replicas, maxConcurrency = "max_concurrency", timeout, maxRetries = "max_retries", startupTimeout = "startup_timeout"
        }
        public static var keys: [String] { CodingKeys.allCases.map(\.rawValue) }
        public var isEmbedded: Bool { start == nil && urls == nil }
    }

    /// Which engine trains: saro's own trainer (the default) or TRL with Accelerate, for every
    /// training stage or those listed. TRL runs in `python`'s environment (default: the one
    /// `scripts/setup-trl.sh` makes in saro's cache folder), launched with `accelerate launch`
    /// and `accelerate_config` when given (DeepSpeed ZeRO-3, FSDP, several GPUs or nodes).
    public struct Trainer: Codable, Sendable, Equatable, ConfigKeyed {
        public enum Kind: String, Codable, Sendable { case saro, trl }
        public var engine: Kind = .saro
        /// The training stages TRL runs (train-rw, train-saro, ...); nil: all of them.
        public var stages: [String]?
        public var python: String?
        public var accelerateConfig: String?
        enum CodingKeys: String, CodingKey, CaseIterable {
            case engine, stages, python, accelerateConfig = "accelerate_config"
        }
        public static var keys: [String] { CodingKeys.allCases.map(\.rawValue) }
        public static let stageNames = ["train-rw", "train-saro", "train-saro-srs", "train-safety-sft", "train-safety-dpo", "train-saro-opcot", "train-saro-ppcot"]

        /// Whether TRL trains `stage`.
        public func usesTRL(_ stage: String) -> Bool { engine == .trl && (stages?.contains(stage) ?? true) }
    }

    /// Each trained model at several training intensities: besides its final model, the
    /// checkpoints nearest to 1/points, 2/points, ... of its steps are evaluated on the part of
    /// the suite the frontier plot needs (held-out jailbreak families, XSTest's safe prompts),
    /// and the report plots jailbreak ASR against over-refusal with each method's frontier.
    public struct Frontier: Codable, Sendable, Equatable {
        public var points = 3
        enum CodingKeys: String, CodingKey { case points }
    }

    public struct Baselines: Codable, Sendable, Equatable {
        public var safetySFT = true
        public var safetyDPO = true
        enum CodingKeys: String, CodingKey { case safetySFT = "safety_sft", safetyDPO = "safety_dpo" }
    }

    public var name: String
    public var out: String
    public var model: String
    public var initModel: Init?
    public var data: DataConfig
    public var teacher: TeacherChoice
    public var judge: JudgeChoice
    /// Checks reasoning chains step by step: `rules` (built in) or an endpoint mapping
    /// (base_url, model, ...) of an instruction model.
    public var stepJudge: StepJudgeChoice
    public var sampling: Sampling
    public var rw: TrainingOptions
    public var srpo: TrainingOptions
    public var srs: Bool
    /// The ablations beside SaRO: SRPO on OP-COT pairs only and on PP-COT pairs only (RW alone
    /// and SaRO are always trained; SaRO + SRS is `srs`).
    public var ablations: Bool
    public var baselines: Baselines
    /// How many times the stochastic stages run, each with its own seeds: seed k (from 0)
    /// adds k to the data, sampling and training seeds. Run 0 is the run folder itself, run k
    /// its `seed-k/` folder; the report gives each model's mean and range over the runs.
    public var seeds: Int
    public var frontier: Frontier?
    public var evaluation: Evaluation
    public var engine: Engine
    public var trainer: Trainer
    /// The recipe's text after variable substitution (saved in the run folder).
    public var resolvedText: String

    static let keys = ["name", "out", "model", "init", "data", "teacher", "judge", "step_judge", "sampling", "rw", "srpo", "srs", "ablations", "baselines", "seeds", "frontier", "eval", "engine", "trainer"]

    public static func load(path: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Recipe {
        guard let data = FileManager.default.contents(atPath: path) else { throw RecipeError.invalid(path: path, line: 1, reason: "cannot read the recipe") }
        return try parse(String(decoding: data, as: UTF8.self), path: path, environment: environment)
    }

    /// `${VAR}` / `${VAR:-default}` from the environment; an unset variable without a default is an error.
    static func substitute(_ text: String, path: String, environment: [String: String]) throws -> String {
        var out = text
        for m in text.matches(of: #/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/#).reversed() {
            let name = String(m.output.1)
            guard let value = environment[name].flatMap({ $0.isEmpty ? nil : $0 }) ?? m.output.2.map(String.init) else {
                let line = text[..<m.range.lowerBound].filter { $0 == "\n" }.count + 1
                throw RecipeError.invalid(path: path, line: line, reason: "environment variable \(name) is not set")
            }
            out.replaceSubrange(m.range, with: value)
        }
        return out
    }

    public static func parse(_ source: String, path: String, environment: [String: String] = [:]) throws -> Recipe {
        let text = try substitute(source, path: path, environment: environment)
        let composed: Node?
        do { composed = try Yams.compose(yaml: text) } catch {
            throw RecipeError.invalid(path: path, line: YAMLErrorLine.of(error), reason: "not valid YAML: \(error)")
        }
        guard let root = composed, let map = root.mapping else {
            throw RecipeError.invalid(path: path, line: 1, reason: "a recipe is a mapping (\(keys.joined(separator: ", ")))")
        }
        for (k, _) in map where !keys.contains(k.string ?? "") {
            throw RecipeError.invalid(path: path, line: (k.mark?.line ?? 0), reason: "unknown recipe key '\(k.string ?? "?")' (known: \(keys.joined(separator: ", ")))")
        }
        func section<T: Codable>(_ key: String, _ defaults: T) throws -> T {
            try overlay(defaults, map[key], path: path, section: key)
        }
        let name = map["name"]?.string ?? URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        try checkName(name, path: path, line: map["name"]?.mark?.line ?? 1)
        var data = DataConfig()
        if let node = map["data"] { data = try DataConfig.decode(node, path: path) }
        var rw = TrainingOptions()
        rw.epochs = 2; rw.lr = 2e-4; rw.maxLength = 768; rw.saveSteps = 20; rw.loggingSteps = 5
        var srpo = TrainingOptions()
        srpo.epochs = 1; srpo.lr = 5e-5; srpo.beta = 0.1; srpo.maxLength = 768; srpo.saveSteps = 20; srpo.loggingSteps = 5; srpo.batchSize = 2
        rw = try section("rw", rw)
        srpo = try section("srpo", srpo)
        for (key, options) in [("rw", rw), ("srpo", srpo)] {
            do { try options.validate() } catch {
                throw RecipeError.invalid(path: path, line: map[key]?.mark?.line ?? 0, reason: "\(key): \(error)")
            }
        }
        let seeds = map["seeds"].map { $0.int } ?? 1
        guard let seeds, seeds >= 1 else {
            throw RecipeError.invalid(path: path, line: map["seeds"]?.mark?.line ?? 0, reason: "seeds is the number of runs of the stochastic stages: a whole number of at least 1")
        }
        let frontier = map["frontier"] == nil ? nil : try section("frontier", Frontier())
        if let frontier {
            let line = map["frontier"]?.mark?.line ?? 0
            if frontier.points < 2 { throw RecipeError.invalid(path: path, line: line, reason: "frontier.points must be at least 2 (the final model is one)") }
            for (key, options) in [("rw", rw), ("srpo", srpo)] where options.saveSteps <= 0 {
                throw RecipeError.invalid(path: path, line: line, reason: "frontier evaluates checkpoints along training: \(key).save_steps must be set")
            }
        }
        return Recipe(
            name: name, out: map["out"]?.string ?? "runs/\(name)", model: map["model"]?.string ?? "smollm2-135m-instruct",
            initModel: map["init"] == nil ? nil : try section("init", Init()),
            data: data, teacher: try teacherChoice(map["teacher"], path: path), judge: try judgeChoice(map["judge"], path: path),
            stepJudge: try stepJudgeChoice(map["step_judge"], path: path),
            sampling: try section("sampling", Sampling()),
            rw: rw, srpo: srpo, srs: map["srs"]?.bool ?? false, ablations: map["ablations"]?.bool ?? false,
            baselines: try section("baselines", Baselines()), seeds: seeds, frontier: frontier,
            evaluation: try section("eval", Evaluation()),
            engine: try checkEngine(try section("engine", Engine()), randomBase: map["init"] != nil, path: path, line: map["engine"]?.mark?.line ?? 0),
            trainer: try checkTrainer(try section("trainer", Trainer()), path: path, line: map["trainer"]?.mark?.line ?? 0),
            resolvedText: text)
    }

    /// Run k of `seeds` (0 is the recipe itself): every seed of the recipe plus k.
    func seeded(_ k: Int) -> Recipe {
        var r = self
        let k = UInt64(k)
        r.data.seed &+= k; r.sampling.seed &+= k; r.rw.seed &+= k; r.srpo.seed &+= k
        return r
    }

    /// A section over its defaults: the defaults are encoded, the recipe's keys laid over them
    /// (dashes or underscores), and the result decoded; a key the section does not have is an
    /// error naming the file and line.
    static func overlay<T: Codable>(_ defaults: T, _ node: Node?, path: String, section: String) throws -> T {
        do { return try ConfigLayers.overlay(defaults, node, path: path, section: section) } catch SourceError.malformed(let p, let line, let reason) {
            throw RecipeError.invalid(path: p, line: line, reason: reason)
        }
    }

    static func teacherChoice(_ node: Node?, path: String) throws -> TeacherChoice {
        guard let node else { return .offline }
        if node.string == "offline" { return .offline }
        guard node.mapping != nil else { throw RecipeError.invalid(path: path, line: node.mark?.line ?? 0, reason: "teacher is 'offline' or an endpoint mapping (base_url, model, ...)") }
        var params = ChatParameters(temperature: 0.7, maxTokens: 1024, seed: 0)
        if let t = node.mapping?["temperature"]?.float { params.temperature = Double(t) }
        if let m = node.mapping?["max_tokens"]?.int { params.maxTokens = m }
        var endpointNode = node
        endpointNode.mapping?["temperature"] = nil
        endpointNode.mapping?["max_tokens"] = nil
        return .endpoint(try endpoint(endpointNode, section: node, key: "teacher", path: path), params)
    }

    /// An endpoint mapping's ChatEndpoint; a bad value is an error at the section's line.
    static func endpoint(_ mapping: Node, section: Node, key: String, path: String) throws -> ChatEndpoint {
        do { return try YAMLDecoder().decode(ChatEndpoint.self, from: try Yams.serialize(node: mapping)) } catch {
            throw RecipeError.invalid(path: path, line: section.mark?.line ?? 0, reason: "\(key): \(error)")
        }
    }

    static func stepJudgeChoice(_ node: Node?, path: String) throws -> StepJudgeChoice {
        guard let node else { return .rules }
        if node.string == "rules" { return .rules }
        guard node.mapping != nil else {
            throw RecipeError.invalid(path: path, line: node.mark?.line ?? 0, reason: "step_judge is 'rules' or an endpoint mapping with base_url, model")
        }
        return .endpoint(try endpoint(node, section: node, key: "step_judge", path: path))
    }

    static func judgeChoice(_ node: Node?, path: String) throws -> JudgeChoice {
        guard let node else { return .rules }
        if node.string == "rules" { return .rules }
        if node.string == TrainedJudges.shippedName { return .trained(try TrainedJudges.shipped()) }
        // Relative folders are read from where saro runs, as the recipe's model and out are.
        if let dir = node.mapping?["trained"]?.string { return .trained(dir) }
        let styleName = node.mapping?["style"]?.string
        guard var m = node.mapping, let styleName, styleName == "rubric" || GuardJudge.Style(rawValue: styleName) != nil else {
            throw RecipeError.invalid(path: path, line: node.mark?.line ?? 0, reason: "judge is 'rules', 'trained' (the shipped judges), a mapping with style (llama-guard, wildguard, rubric), base_url, model, or {trained: DIR} (a folder from saro judge train)")
        }
        m["style"] = nil
        let e = try endpoint(.mapping(m), section: node, key: "judge", path: path)
        return GuardJudge.Style(rawValue: styleName).map { .guardModel($0, e) } ?? .rubric(e)
    }
}
