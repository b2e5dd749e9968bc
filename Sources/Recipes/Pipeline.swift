import Support
import Evaluation
import Foundation
import Jobs
import Judges
import Inference
import Models
import OpenAIClient
import SaRO
import Tensor
import Training
import TRLBridge

/// Progress of `saro run`, one stream for the CLI, the logs and the tests.
public enum PipelineEvent: Sendable {
    case stageStarted(name: String, index: Int, count: Int)
    case stageSkipped(name: String)
    /// `peakMB`: this process's peak resident memory during the stage.
    case stageFinished(name: String, seconds: Double, peakMB: Double)
    case build(ProgressEvent)
    case training(step: Int, total: Int, loss: Double)
    case note(String)
}

/// Where a stage stands, as the plan prints it.
public enum StageStatus: String, Sendable {
    case toDo = "to do"
    case done
    /// Finished, but what it read has changed since.
    case inputsChanged = "inputs changed"
    /// Finished, but some of its outputs are gone.
    case outputsMissing = "outputs missing"
    /// Finished with unchanged inputs, but an earlier stage of the plan will write them again.
    case upstreamChange = "upstream change"
}

/// One step of a plan: a stage, where it stands, what it will do and its estimated work.
public struct PlannedStage: Sendable {
    public var name: String
    public var status: StageStatus
    public var plan: String
    public var decodeTokens: Int
    public var trainTokens: Int
    public var seconds: Double
}

/// One stage: what it does, what it reads and the settings it runs with (together its
/// fingerprint), what it writes, and how to run it. Running an interrupted stage again resumes
/// it: builds and evaluations from their job store, training from its newest checkpoint.
struct Stage {
    var kind: StageKind
    /// Set for the stages of a later seed's run (`seed-k/`).
    var prefix = ""
    var name: String { prefix + kind.name }
    var inputs: [String]
    /// The settings as canonical JSON (`Pipeline.settings`), from the recipe's Codable values.
    var settings: String
    var outputs: [String]
    var run: () async throws -> Void
    /// A training stage resumes from checkpoints of the same inputs only: when its inputs
    /// changed, its output folder is cleared before it runs again.
    var restartsWhenInputsChange = false
    /// What the plan prints: sizes and estimated work.
    var plan: String
    /// Estimated tokens decoded, positions run forward without decoding (prompts' prefill,
    /// NLL scoring, hidden states) and tokens trained on (forward and backward).
    var decodeTokens = 0
    var forwardTokens = 0
    var trainTokens = 0
    /// Its generation runs with LoRA adapters on the base (a trained model), which decodes
    /// slower than the base alone.
    var adapted = false
    /// The stage's model work runs on another engine (a server, TRL): this machine's rates
    /// do not estimate it.
    var elsewhere = false
}

/// Runs a recipe's stages in order inside the run folder.
public final class Pipeline: @unchecked Sendable {
    public let recipe: Recipe
    public let dir: String
    let layout: RunLayout
    public let events: @Sendable (PipelineEvent) -> Void

    /// This saro executable, for the `{saro}` placeholder of the engine's server commands.
    public let executable: String?
    /// Servers set up for the running stage; released when it ends.
    private var started: [StageServerEngine] = []
    private let startedLock = NSLock()

    /// Which run of the recipe's `seeds` this is: 0 for the run folder itself. A later run
    /// works in `seed-k/` with the recipe's seeds plus k; its stage names start with `seed-k/`,
    /// and it shares run 0's base model and evaluation prompts (its data config draws the
    /// jailbreak evaluation set), so its models are scored on the same prompts. The base
    /// model's greedy evaluation is the same in every run and is done once.
    let seedIndex: Int
    let sharedBase: String?
    /// The data settings evaluations draw their prompts with.
    let evaluationData: DataConfig
    /// The recipe's later seeds, each a pipeline of its own stages inside this run folder.
    private(set) var replicates: [Pipeline] = []

    public init(recipe: Recipe, out: String?, executable: String? = nil, events: @escaping @Sendable (PipelineEvent) -> Void) {
        self.recipe = recipe
        self.executable = executable
        let dir = out ?? recipe.out
        self.dir = dir
        layout = RunLayout(dir: dir)
        let log = RunLog(path: layout.runLog)
        self.events = { log.record($0); events($0) }
        seedIndex = 0
        sharedBase = nil
        evaluationData = recipe.data
        replicates = (1..<max(1, recipe.seeds)).map { Pipeline(runOf: self, seed: $0) }
    }

    private init(runOf parent: Pipeline, seed k: Int) {
        recipe = parent.recipe.seeded(k)
        executable = parent.executable
        dir = (parent.dir as NSString).appendingPathComponent("seed-\(k)")
        layout = RunLayout(dir: dir)
        events = parent.events
        seedIndex = k
        sharedBase = parent.baseModel
        evaluationData = parent.recipe.data
    }

    /// What this run's stage names start with.
    var stagePrefix: String { seedIndex == 0 ? "" : "seed-\(seedIndex)/" }

    /// The labels of the models a run evaluates, in the method document's order, and the one
    /// its report compares against the others.
    public static let modelLabels = ["Base"] + [RunLayout.Adapter.safetySFT, .safetyDPO, .rw, .opcotOnly, .ppcotOnly, .saro, .saroSRS].map(\.label)
    public static let focusLabel = "SaRO"

    /// The models the run evaluates, by label: (model, adapter).
    public var evaluated: [(label: String, model: String, adapter: String?)] {
        let l = layout
        var out: [(String, String, String?)] = seedIndex == 0 ? [("Base", baseModel, nil)] : []
        if recipe.baselines.safetySFT { out.append((RunLayout.Adapter.safetySFT.label, baseModel, l.checkpoint(.safetySFT))) }
        if recipe.baselines.safetyDPO { out.append((RunLayout.Adapter.safetyDPO.label, baseModel, l.checkpoint(.safetyDPO))) }
        out.append((RunLayout.Adapter.rw.label, l.rwModel, nil))
        if recipe.ablations {
            for a in [RunLayout.Adapter.opcotOnly, .ppcotOnly] { out.append((a.label, l.rwModel, l.checkpoint(a))) }
        }
        out.append((RunLayout.Adapter.saro.label, l.rwModel, l.checkpoint(.saro)))
        if recipe.srs { out.append((RunLayout.Adapter.saroSRS.label, l.rwModel, l.checkpoint(.saroSRS))) }
        return out
    }

    var baseModel: String { sharedBase ?? (recipe.initModel == nil ? recipe.model : layout.initializedBase) }

    /// Whether saro's engine decodes the base model from a GGUF's blocks (see `engine`).
    var baseDecodesFromBlocks: Bool {
        recipe.engine.isEmbedded && recipe.initModel == nil && (try? ModelStore.resolve(recipe.model))?.pathExtension.lowercased() == "gguf"
    }

    /// The engine a generating stage runs `model` on: saro's own; the servers the recipe names,
    /// which hold the base model (the stage's adapter loaded into them); or a server started
    /// from the recipe's command on first use. Servers are released when the stage ends.
    func engine(_ model: String, adapter: String?, batchSize: Int, stage kind: StageKind) throws -> InferenceEngine {
        let stage = kind.name
        let e = recipe.engine
        if e.isEmbedded {
            // The RW model is the base plus RW's adapter, merged into float32 weights for
            // training; a GGUF base decodes from its blocks several times faster (integer
            // products), so generation runs the base with the adapter(s) unmerged: the same
            // weights, dequantized block plus low-rank update, in another order of operations.
            if model != baseModel, baseDecodesFromBlocks, let onBase = try adapterOnBase(model, adapter: adapter) {
                return try EmbeddedEngine.open(baseModel, adapter: onBase, batchSize: batchSize)
            }
            return try EmbeddedEngine.open(model, adapter: adapter, batchSize: batchSize)
        }
        let url = try ModelStore.resolve(model)
        let key = EmbeddedEngine.modelKey(url, adapter: adapter)
        let tokenizer = try PretrainedModel.loadTokenizer(url.path)
        let name = "saro-\(stage)"
        let events = self.events
        // The recipe's client limits; the base URL is each server's.
        func endpoint(model: String, apiKeyEnv: String?) -> ChatEndpoint {
            ChatEndpoint(baseURL: "", model: model, apiKeyEnv: apiKeyEnv, maxConcurrency: e.maxConcurrency, timeoutSeconds: e.timeout, maxRetries: e.maxRetries)
        }
        let engine: StageServerEngine
        if let urls = e.urls {
            let served = e.servedModel ?? recipe.model
            let onBase = try adapterOnBase(model, adapter: adapter)
            let endpoint = endpoint(model: onBase == nil ? served : name, apiKeyEnv: e.apiKeyEnv)
            let lora = onBase.map { (name: name, path: URL(fileURLWithPath: $0).standardizedFileURL.path) }
            engine = StageServerEngine(modelKey: key, endpoint: endpoint, tokenizer: tokenizer, replicas: urls.count) { i in
                var target = endpoint
                target.baseURL = urls[i]
                let server: AttachedServer
                do { server = try await AttachedServer.attach(endpoint: target, base: served, adapter: lora) } catch {
                    throw RecipeError.stage(name: stage, reason: "\(error)")
                }
                events(.note("\(stage): server at \(urls[i])" + (lora.map { " with adapter \($0.name) loaded from \($0.path)" } ?? "")))
                return server
            }
        } else {
            guard let start = e.start, let startAdapter = e.startAdapter else { throw RecipeError.stage(name: stage, reason: "engine: no start command") }
            let values = ["model": url.path, "name": name, "saro": executable ?? "saro"].merging(adapter.map { ["adapter": $0] } ?? [:]) { a, _ in a }
            let template = adapter == nil ? start : startAdapter
            let endpoint = endpoint(model: name, apiKeyEnv: nil)
            let replicas = e.replicas
            let logs = (0..<replicas).map { layout.serverLog(stage: kind, replica: replicas == 1 ? nil : $0) }
            engine = StageServerEngine(modelKey: key, endpoint: endpoint, tokenizer: tokenizer, replicas: replicas) { replica in
                let server: ManagedServer
                do {
                    server = try await ManagedServer.start(template: template, values: values.merging(["replica": "\(replica)"]) { a, _ in a },
                                                           logPath: logs[replica], startupTimeout: e.startupTimeout)
                } catch {
                    throw RecipeError.stage(name: stage, reason: "\(error)")
                }
                events(.note("\(stage): server at \(server.baseURL) (\(server.command))"))
                return server
            }
        }
        startedLock.withLock { started.append(engine) }
        return engine
    }

    /// The one adapter that turns the base model into `model` with `adapter` (nil: the base
    /// alone), for servers that hold only the base and for saro's engine on a GGUF base. The RW model is the base with RW's adapter
    /// (saro merges it into a model of its own, which such servers do not have), so the RW
    /// model alone is the base with `checkpoints/rw`, and an adapter trained on it (SaRO,
    /// SaRO+SRS) is stacked with RW's into one adapter, written to `models/<name>-with-rw`.
    func adapterOnBase(_ model: String, adapter: String?) throws -> String? {
        if model == baseModel { return adapter }
        guard model == layout.rwModel else { throw RecipeError.stage(name: "engine", reason: "\(model) is not the base model or the RW model: the servers in engine.urls cannot serve it") }
        let rw = layout.checkpoint(.rw)
        guard let adapter else { return rw }
        let folder = layout.stackedWithRW(adapter)
        let partial = folder + ".partial"
        try? FileManager.default.removeItem(atPath: partial)
        let stacked = try LoRAAdapters.stacked(try LoRAAdapters.read(from: URL(fileURLWithPath: rw)), try LoRAAdapters.read(from: URL(fileURLWithPath: adapter)))
        try stacked.save(to: URL(fileURLWithPath: partial), baseModel: recipe.engine.servedModel ?? recipe.model)
        try? FileManager.default.removeItem(atPath: folder)
        try FileManager.default.moveItem(atPath: partial, toPath: folder)
        return folder
    }

    /// How TRL stages launch: the recipe's Python, or the environment scripts/setup-trl.sh makes.
    var trlLauncher: TRLLauncher {
        TRLLauncher(python: recipe.trainer.python, accelerateConfig: recipe.trainer.accelerateConfig)
    }

    /// `model` as a Hugging Face folder, which TRL loads: the folder itself, or a GGUF file
    /// (the embedded default is one) saved once as a folder in the run's models/ (dequantized,
    /// the weights saro's own trainer starts from).
    func huggingFaceFolder(_ model: String) throws -> String {
        let url = try ModelStore.resolve(model)
        guard url.pathExtension.lowercased() == "gguf" else { return url.path }
        let folder = layout.huggingFaceCopy(of: url.deletingPathExtension().lastPathComponent)
        if FileManager.default.fileExists(atPath: folder + "/config.json") { return folder }
        let partial = folder + ".partial"
        try? FileManager.default.removeItem(atPath: partial)
        let loaded = try PretrainedModel.load(url.path)
        try ModelWriter.save(config: loaded.config, weights: loaded.weights, tokenizer: loaded.tokenizer, to: URL(fileURLWithPath: partial))
        try? FileManager.default.removeItem(atPath: folder)
        try FileManager.default.moveItem(atPath: partial, toPath: folder)
        events(.note("saved \(url.lastPathComponent) as a Hugging Face folder for TRL: \(folder)"))
        return folder
    }

    func stopServers() async {
        let engines = startedLock.withLock { () -> [StageServerEngine] in defer { started = [] }; return started }
        for e in engines { await e.stop() }
        for r in replicates { await r.stopServers() }
    }

    /// A stage's settings as one canonical JSON text (sorted keys) of the recipe's Codable
    /// values, the part of its fingerprint that is not its inputs' contents.
    static func settings(_ values: [String: any Encodable]) -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        struct Wrapped: Encodable {
            let values: [String: any Encodable]
            func encode(to encoder: Encoder) throws {
                var c = encoder.container(keyedBy: Key.self)
                for (k, v) in values { try c.encode(v, forKey: Key(stringValue: k)) }
            }
            struct Key: CodingKey {
                var stringValue: String
                init(stringValue: String) { self.stringValue = stringValue }
                var intValue: Int? { nil }
                init?(intValue: Int) { nil }
            }
        }
        return (try? enc.encode(Wrapped(values: values))).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }

    /// What a generating stage's settings add for its engine (nothing for the embedded one).
    var engineSettings: [String: any Encodable] {
        recipe.engine.isEmbedded ? [:] : ["engine": recipe.engine]
    }

    func dataPipeline(answerModel: String, stage: StageKind) throws -> DataPipeline {
        var config = recipe.data
        config.seed = recipe.data.seed
        let answer = try engine(answerModel, adapter: nil, batchSize: recipe.sampling.batchSize, stage: stage)
        let events = self.events
        return try DataPipeline(config: config, directory: layout.dataFolder, teacher: recipe.teacher, judge: recipe.judge,
                                stepJudge: recipe.stepJudge, answerModel: recipe.teacher == .offline ? answer : nil, events: { events(.build($0)) },
                                log: { events(.note($0)) })
    }

    /// The stages of this recipe, in order: run 0's, each later seed's, and the report.
    func stages() throws -> [Stage] {
        var all = try ownStages()
        for r in replicates { all += try r.ownStages() }
        let l = layout
        let results = evaluated.map { l.results($0.label) } + replicates.flatMap { r in r.evaluated.map { r.layout.results($0.label) } }
            + frontierPoints.map { l.frontierResults($0.adapter, part: $0.part, of: $0.of) }
        all.append(Stage(kind: .report, inputs: results, settings: "", outputs: [l.reportHTML, l.reportMarkdown], run: { [self] in
            try writeReport()
        }, plan: "report.html and report.md"))
        return all
    }

    /// This run's stages, without the report.
    func ownStages() throws -> [Stage] {
        var s: [Stage] = []
        let r = recipe, l = layout
        let dataSettings = Self.settings(["data": r.data, "teacher": r.teacher, "judge": r.judge].merging(engineSettings) { a, _ in a })
        let samplingSettings = Self.settings(["data": r.data, "teacher": r.teacher, "judge": r.judge, "step_judge": r.stepJudge == .rules ? RuleStepJudge().name as any Encodable : r.stepJudge, "sampling": r.sampling.settings].merging(engineSettings) { a, _ in a })
        let sampling = r.sampling.settings
        let q = r.data.harmful + r.data.jailbreak + r.data.benign
        let onServer = r.engine.isEmbedded ? "" : " (server)"

        if let i = r.initModel, sharedBase == nil {
            s.append(Stage(kind: .initModel, inputs: [], settings: Self.settings(["init": i, "tokenizer": r.model]), outputs: [l.initializedBase + "/config.json"], run: {
                let tokenizer = try PretrainedModel.loadTokenizer(r.model)
                let config: LlamaConfig
                do { config = try i.config(vocabSize: tokenizer.vocabularySize) } catch { throw RecipeError.stage(name: StageKind.initModel.name, reason: "init: \(error)") }
                try ModelWriter.save(config: config, weights: LlamaModel.initialWeights(config: config, seed: i.seed, std: i.std), tokenizer: tokenizer,
                                     to: URL(fileURLWithPath: l.initializedBase))
            }, plan: "random model \(i.layers) layers x \(i.hiddenSize), tokenizer of \(r.model)"))
        }
        let base = baseModel
        /// A data stage that builds `set` with the base model answering (offline teacher).
        func data(_ set: RunLayout.DataSet, plan: String, decodeTokens: Int = 0, forwardTokens: Int = 0, elsewhere: Bool = false,
                  build: @escaping (DataPipeline) async throws -> Void) -> Stage {
            Stage(kind: .data(set), inputs: [base], settings: dataSettings, outputs: [l.data(set)], run: { [self] in
                try await build(try dataPipeline(answerModel: base, stage: .data(set)))
            }, plan: plan, decodeTokens: decodeTokens, forwardTokens: forwardTokens, elsewhere: elsewhere)
        }
        let benignAnswers = r.teacher == .offline ? r.data.benign : 0
        s.append(data(.ritd, plan: "\(q) queries x teacher; \(r.data.benign) benign answers of <= \(r.data.answerTokens) tokens from the base model\(r.teacher == .offline ? onServer : "")",
                      decodeTokens: benignAnswers * r.data.answerTokens, forwardTokens: benignAnswers * TypicalSizes.benignPromptTokens,
                      elsewhere: !r.engine.isEmbedded) { _ = try await $0.buildRITD() })
        if r.baselines.safetySFT || r.baselines.safetyDPO {
            s.append(data(.direct, plan: "the same \(q) queries, direct answers (Safety-SFT); benign answers shared with data-ritd") { _ = try await $0.buildDirect() })
        }
        if r.baselines.safetyDPO {
            s.append(data(.safetyDPO, plan: "direct answer versus direct compliance/refusal pairs (Safety-DPO)") { _ = try await $0.buildSafetyDPO() })
        }
        s.append(train(.rw, kind: .sft, model: base, data: [.ritd], options: r.rw, examples: q, tokensPerExample: TypicalSizes.ritdTokens))
        s.append(Stage(kind: .mergeRW, inputs: [base, l.checkpoint(.rw)], settings: "", outputs: [l.rwModel + "/config.json"], run: {
            let loaded = try PretrainedModel.load(base)
            let adapters = try loaded.loadAdapters(l.checkpoint(.rw))
            try ModelWriter.save(config: loaded.config, weights: adapters.merged(into: loaded.weights), tokenizer: loaded.tokenizer,
                                 to: URL(fileURLWithPath: l.rwModel))
        }, plan: "fold the RW adapter into the base: the RW model and SRPO's reference"))
        let rwModel = l.rwModel
        /// A data stage that samples `set` from the RW model, reading `after` (the data it builds on).
        func samples(_ set: RunLayout.DataSet, after: RunLayout.DataSet, plan: String, decodeTokens: Int = 0, forwardTokens: Int = 0, elsewhere: Bool = false,
                     build: @escaping (DataPipeline, InferenceEngine) async throws -> Void) -> Stage {
            Stage(kind: .data(set), inputs: [rwModel, l.data(after)], settings: samplingSettings, outputs: [l.data(set)], run: { [self] in
                let policy = try engine(rwModel, adapter: nil, batchSize: r.sampling.batchSize, stage: .data(set))
                try await build(try dataPipeline(answerModel: base, stage: .data(set)), policy)
            }, plan: plan, decodeTokens: decodeTokens, forwardTokens: forwardTokens, adapted: true, elsewhere: elsewhere)
        }
        s.append(samples(.opcot, after: .ritd, plan: "\(q) prompts x \(sampling.samples) samples of <= \(sampling.maxTokens) tokens from the RW model\(onServer)",
                         decodeTokens: q * sampling.samples * sampling.maxTokens, forwardTokens: q * sampling.samples * TypicalSizes.evalPromptTokens,
                         elsewhere: !r.engine.isEmbedded) {
            _ = try await $0.buildOPCOT(policyModel: $1, sampling: sampling)
        })
        s.append(samples(.ppcot, after: .opcot, plan: "reflection pairs from the flawed samples, early-versus-late reflection pairs") {
            _ = try await $0.buildPPCOT(policyModel: $1, sampling: sampling)
        })
        let srpoPairs = Int(Double(q) * TypicalSizes.srpoPairsPerQuery)
        s.append(train(.saro, kind: .dpo, model: rwModel, data: [.opcot, .ppcot], options: r.srpo, examples: srpoPairs, tokensPerExample: TypicalSizes.srpoPairTokens))
        if r.ablations {
            // Same options as SaRO's SRPO, on each kind of pair alone (about half the pairs each).
            s.append(train(.opcotOnly, kind: .dpo, model: rwModel, data: [.opcot], options: r.srpo, examples: srpoPairs / 2, tokensPerExample: TypicalSizes.srpoPairTokens))
            s.append(train(.ppcotOnly, kind: .dpo, model: rwModel, data: [.ppcot], options: r.srpo, examples: srpoPairs / 2, tokensPerExample: TypicalSizes.srpoPairTokens))
        }
        if r.srs {
            s.append(samples(.opcotSRS, after: .opcot, plan: "OP-COT with the shortest accepted sample as chosen (Shortest Rejection Sampling)") {
                _ = try await $0.buildOPCOT(policyModel: $1, sampling: sampling, chosen: .shortest, name: RunLayout.DataSet.opcotSRS.rawValue)
            })
            s.append(train(.saroSRS, kind: .dpo, model: rwModel, data: [.opcotSRS, .ppcot], options: r.srpo, examples: srpoPairs, tokensPerExample: TypicalSizes.srpoPairTokens))
        }
        if r.baselines.safetySFT {
            s.append(train(.safetySFT, kind: .sft, model: base, data: [.direct], options: r.rw, examples: q, tokensPerExample: TypicalSizes.directTokens))
        }
        if r.baselines.safetyDPO {
            s.append(train(.safetyDPO, kind: .dpo, model: base, data: [.safetyDPO], options: r.srpo, examples: q, tokensPerExample: TypicalSizes.safetyDPOPairTokens))
        }
        for m in evaluated { s.append(evaluate(m.label, model: m.model, adapter: m.adapter)) }
        for p in frontierPoints { s.append(evaluateFrontier(p)) }
        for i in s.indices { s[i].prefix = stagePrefix }
        return s
    }

    /// Reference answers a suite entry scores (for the plan's estimate).
    static func scoredItems(_ e: Suite.Entry) -> Int {
        switch e.name {
        case "nll-gsm8k": return e.limit ?? 100
        case "nll-humaneval": return e.limit ?? 164
        default: return 0
        }
    }

    /// Generations a suite entry makes (for the plan's estimate), its `only` part included.
    static func generations(_ e: Suite.Entry, heldOutFamilies: Int) -> Int {
        switch (e.name, e.only) {
        case ("nll-gsm8k", _), ("nll-humaneval", _): return 0
        case ("jailbreak", "held-out"): return (e.perFamily ?? 10) * heldOutFamilies
        case ("jailbreak", "seen"): return (e.perFamily ?? 10) * (TypicalSizes.jailbreakFamilies - heldOutFamilies)
        case ("jailbreak", _): return (e.perFamily ?? 10) * TypicalSizes.jailbreakFamilies
        case ("xstest", "safe"): return (e.limit ?? 450) * 250 / 450
        case ("xstest", "unsafe"): return (e.limit ?? 450) * 200 / 450
        case ("xstest", _): return e.limit ?? 450
        default: return e.limit ?? 100
        }
    }

    /// A training stage: `adapter` trained on `sets` (joined into one file when several).
    func train(_ adapter: RunLayout.Adapter, kind: TrainingSession.Kind, model: String, data sets: [RunLayout.DataSet], options recipeOptions: TrainingOptions,
               examples: Int, tokensPerExample: Int) -> Stage {
        let stageKind = StageKind.train(adapter), name = stageKind.name, l = layout
        // A frontier keeps the checkpoints it evaluates: every one while training, then those
        // nearest to its points and the last.
        let frontier = seedIndex == 0 ? recipe.frontier : nil
        var options = recipeOptions
        if frontier != nil { options.saveTotalLimit = 0 }
        let data = sets.map { l.data($0) }, out = l.checkpoint(adapter)
        let steps = options.maxSteps > 0 ? options.maxSteps : Int((Double(examples) * options.epochs / Double(options.batchSize * options.gradAccum)).rounded(.up))
        let length = options.maxSteps > 0 ? "\(options.maxSteps) steps" : "\(options.epochs) epoch(s)"
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        let useTRL = recipe.trainer.usesTRL(name)
        // The options' own JSON (finished training stages of earlier runs keep their
        // fingerprint); the trainer joins it only when it is TRL.
        let settings = ((try? enc.encode(options)).map { String(decoding: $0, as: UTF8.self) } ?? "") + (useTRL ? Self.settings(["trl": trlLauncher]) : "")
        return Stage(kind: stageKind, inputs: [model] + data, settings: settings, outputs: [out + "/adapter_model.safetensors"], run: { [self] in
            // Several data files train as one (SRPO: OP-COT and PP-COT pairs).
            var file = data[0]
            if data.count > 1 {
                file = l.joinedData(for: stageKind)
                let text = try data.map { p -> String in
                    guard let t = FileManager.default.contents(atPath: p) else { throw RecipeError.stage(name: name, reason: "missing \(p)") }
                    return String(decoding: t, as: UTF8.self)
                }.joined()
                try JSONL.writeAtomically(text, to: file)
            }
            // Either engine's steps drive the run's progress bar.
            let progress: (TrainingEvent) -> Void = { e in
                if case .step(let step, let total, let loss, _) = e { self.events(.training(step: step, total: total, loss: loss)) }
            }
            if useTRL {
                let stage = TRLStage(kind: kind, model: try huggingFaceFolder(model), data: file, options: options, outputDirectory: URL(fileURLWithPath: out),
                                     launcher: trlLauncher, logPath: l.trlLog(stage: stageKind))
                do { try await stage.run(log: { self.events(.note("\(name): \($0)")) }, onEvent: progress) } catch let error as TRLError {
                    throw RecipeError.stage(name: name, reason: "\(error)")
                }
            } else {
                let loaded = try PretrainedModel.load(model)
                let session = try TrainingSession(kind: kind, model: loaded, modelName: model, data: file, options: options, outputDirectory: URL(fileURLWithPath: out)) {
                    self.events(.note($0))
                }
                try session.trainer.run(resume: true, onEvent: progress)
            }
            if let frontier { FrontierCheckpoints.prune(out, points: frontier.points) }
        }, restartsWhenInputsChange: true, plan: "\(kind == .sft ? "SFT" : "DPO") on \(data.map { URL(fileURLWithPath: $0).lastPathComponent }.joined(separator: " + ")), \(length), LoRA rank \(options.loraRank)\(useTRL ? " (TRL)" : "")",
           // DPO also runs the reference model forward once over each pair it trains on: a
           // forward pass is about a third of a training step's work.
           trainTokens: steps * options.batchSize * options.gradAccum * min(tokensPerExample, options.maxLength * (kind == .dpo ? 2 : 1)) * (kind == .dpo ? 4 : 3) / 3,
           elsewhere: useTRL)
    }

    /// The judge part of an evaluation's fingerprint: the recipe's choice and the rules'
    /// version (every judge starts from the rules' reading), so a change of the rules redoes the
    /// evaluations, which then judge their stored answers again without generating them again.
    /// Data stages keep the verdicts they were built with.
    var evaluationJudgeSettings: [String: any Encodable] { ["judge": recipe.judge, "rules": RuleJudge().identity] }

    func evaluate(_ label: String, model: String, adapter: String?) -> Stage {
        let out = layout.evaluation(label)
        let e = recipe.evaluation
        // Servers expose no hidden states: a server-backed evaluation has no embedding analysis.
        let embeddings = e.embeddings && recipe.engine.isEmbedded
        let stage = StageKind.evaluate(label: label)
        let suite = try? Suite.named(e.suite)
        let heldOut = evaluationData.heldOutFamilies.count
        return Stage(kind: stage, inputs: [model] + (adapter.map { [$0] } ?? []),
                     settings: Self.settings(["eval": e].merging(evaluationJudgeSettings) { a, _ in a }.merging(engineSettings) { a, _ in a }),
                     outputs: [out + "/results.json"] + (embeddings ? [out + "/embedding.json"] : []), run: { [self] in
            let events = self.events
            let job = EvaluationJob(suite: try Suite.named(e.suite), data: evaluationData, judge: recipe.judge, label: label, modelName: model, adapter: adapter,
                                    embeddings: e.embeddings ? (e.embeddingCount, nil) : nil)
            _ = try await job.run(engine: try engine(model, adapter: adapter, batchSize: e.batchSize, stage: stage), out: out, events: { events(.build($0)) })
        }, plan: "suite \(e.suite)\(embeddings ? " + embeddings" : "") on \(label)\(recipe.engine.isEmbedded ? "" : " (server)")",
           decodeTokens: suite.map { s in s.maxTokens * s.entries.map { Self.generations($0, heldOutFamilies: heldOut) }.reduce(0, +) } ?? 0,
           forwardTokens: (suite.map { s in s.entries.map { Self.generations($0, heldOutFamilies: heldOut) * TypicalSizes.evalPromptTokens + Self.scoredItems($0) * TypicalSizes.nllItemTokens }
                                                .reduce(0, +) } ?? 0) + (embeddings ? e.embeddingCount * TypicalSizes.embeddingPromptTokens : 0),
           adapted: model != baseModel || adapter != nil, elsewhere: !recipe.engine.isEmbedded)
    }

    func writeReport() throws {
        let models = try evaluated.map { try ReportModel.load(directory: layout.evaluation($0.label)) }
        var curves: [TrainingCurves] = []
        for adapter in RunLayout.Adapter.allCases {
            let metrics = layout.checkpoint(adapter) + "/metrics.jsonl"
            if FileManager.default.fileExists(atPath: metrics) { curves.append(try TrainingCurves.read(label: adapter.label, path: metrics)) }
        }
        var report = Report(models: models, curves: curves, focus: Self.focusLabel)
        if recipe.frontier != nil {
            // The base model is a method of one point; each trained model's checkpoints join its final model.
            var points: [Report.FrontierPoint] = []
            for (m, model) in zip(evaluated, models) {
                let earlier = try frontierPoints.filter { $0.adapter.label == m.label }.map { p in
                    try ReportModel.load(directory: layout.frontierEvaluation(p.adapter, part: p.part, of: p.of))
                }
                points += (earlier + [model]).compactMap { Report.FrontierPoint.of($0, method: m.label) }
            }
            report.frontier = points
        }
        if !replicates.isEmpty {
            report.seedRuns = try zip(evaluated, models).map { m, model in
                (m.label, [model] + (try replicates.filter { r in r.evaluated.contains { $0.label == m.label } }.map { r in
                    try ReportModel.load(directory: r.layout.evaluation(m.label))
                }))
            }
        }
        report.title = "SaRO run: \(recipe.name)"
        let records = try StageRecords.load(layout.stagesFile)
        let total = records.stages.values.map(\.seconds).reduce(0, +)
        report.stages = try stages().compactMap { s in records.stages[s.name].map { Report.StageCost(name: s.name, seconds: $0.seconds, peakMB: $0.peakResidentMB) } }
        report.note = "Model \(recipe.model)\(recipe.initModel != nil ? " (random initialization)" : ""); \(ProcessInfo.processInfo.activeProcessorCount) cores; " +
            String(format: "stage time so far %.0f min; ", total / 60) + "generated \(ISO8601DateFormatter().string(from: Date()))."
        try report.write(htmlPath: layout.reportHTML)
    }

    /// Throughputs for the plan's time estimates (see `Rates`), for this recipe's model on
    /// this machine: measured with the model in a few seconds, or scaled from the reference
    /// run where the model cannot be loaded here.
    public func rates() -> Rates {
        if recipe.initModel == nil, let loaded = try? PretrainedModel.load(recipe.model),
           let measured = try? Rates.measure(loaded: loaded, batch: max(recipe.sampling.batchSize, recipe.evaluation.batchSize),
                                             rank: recipe.rw.loraRank, gradientCheckpointing: recipe.rw.gradientCheckpointing ?? false) {
            return measured
        }
        var params = 135e6
        if recipe.initModel == nil, let url = try? ModelStore.resolve(recipe.model) {
            let config: LlamaConfig? = url.pathExtension.lowercased() == "gguf"
                ? (try? GGUFFile(path: url.path).llamaConfig())
                : (try? JSONDecoder().decode(LlamaConfig.self, from: Data(contentsOf: url.appendingPathComponent("config.json"))))
            if let c = config { params = Double(LlamaModel.expectedShapes(c).map { $0.1.reduce(1, *) }.reduce(0, +)) }
        } else if let i = recipe.initModel {
            params = Double(i.layers * (4 * i.hiddenSize * i.hiddenSize + 3 * i.hiddenSize * i.intermediateSize) + 50_000 * i.hiddenSize)
        }
        return Rates.estimate(parameters: params, gflops: Rates.measureGflops())
    }

    /// The plan: each stage, whether it is done, and what it will do.
    /// A finished stage that reads what an earlier stage of the plan will write again is shown
    /// as "upstream change": the run will redo it if that output comes out different.
    public func plan(rates r: Rates) throws -> [PlannedStage] {
        let records = try StageRecords.load(layout.stagesFile)
        var rewritten: [String] = []
        return try stages().map { s in
            var state = status(s, records)
            if state == .done, s.inputs.contains(where: { i in rewritten.contains { $0 == i || $0.hasPrefix(i + "/") } }) { state = .upstreamChange }
            if state != .done { rewritten += s.outputs }
            if s.elsewhere { return PlannedStage(name: s.name, status: state, plan: s.plan, decodeTokens: 0, trainTokens: 0, seconds: 0) }
            return PlannedStage(name: s.name, status: state, plan: s.plan, decodeTokens: s.decodeTokens, trainTokens: s.trainTokens,
                                seconds: Double(s.decodeTokens) / (s.adapted ? r.decodeAdapted : r.decode) + Double(s.forwardTokens) / r.prefill
                                    + Double(s.trainTokens) / r.train)
        }
    }

    /// Inputs inside the run folder are named relative to it, so a run folder that is moved or
    /// copied (to try a change on a copy of a finished run) keeps its finished stages.
    func fingerprint(_ s: Stage) -> String {
        let prefix = (dir as NSString).standardizingPath + "/"
        func name(_ input: String) -> String {
            let full = (input as NSString).standardizingPath
            return full.hasPrefix(prefix) ? "run:" + full.dropFirst(prefix.count) : input
        }
        return ContentKey.of([s.name, s.settings] + s.inputs.map { name($0) + "=" + FileDigest.of($0) })
    }

    func status(_ s: Stage, _ records: StageRecords) -> StageStatus {
        guard let r = records.stages[s.name] else { return .toDo }
        if r.fingerprint != fingerprint(s) { return .inputsChanged }
        return s.outputs.allSatisfy { FileManager.default.fileExists(atPath: $0) } ? .done : .outputsMissing
    }

    /// Runs every stage that is not done with unchanged inputs.
    public func run() async throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try JSONL.writeAtomically(recipe.resolvedText, to: layout.recipeFile)
        var records = try StageRecords.load(layout.stagesFile)
        let all = try stages()
        for (i, s) in all.enumerated() {
            if status(s, records) == .done { events(.stageSkipped(name: s.name)); continue }
            // Inputs changed since the stage finished: start it over rather than resume.
            if records.stages[s.name] != nil, s.restartsWhenInputsChange {
                try? FileManager.default.removeItem(atPath: (s.outputs[0] as NSString).deletingLastPathComponent)
            }
            events(.stageStarted(name: s.name, index: i + 1, count: all.count))
            let start = Date()
            FreedMemory.release()
            ResidentMemory.resetPeak()
            do { try await s.run() } catch {
                await stopServers()
                throw error
            }
            await stopServers()
            let seconds = Date().timeIntervalSince(start)
            let peak = ResidentMemory.peakMegabytes()
            records.stages[s.name] = .init(fingerprint: fingerprint(s), finished: ISO8601DateFormatter().string(from: Date()), seconds: seconds,
                                           outputs: s.outputs, peakResidentMB: peak)
            try records.save(layout.stagesFile)
            events(.stageFinished(name: s.name, seconds: seconds, peakMB: peak))
        }
    }
}
