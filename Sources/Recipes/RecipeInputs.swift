import Evaluation
import Foundation
import Models
import SaRO

extension Recipe {
    /// Checks, without running anything, that what the recipe names exists: the model (a
    /// known name or a path), the policy, prompt and template folders, every seed source
    /// (`file:PATH` included), the evaluation suite (parsed). `saro run` calls it before the
    /// plan and before the first stage, so a typo fails at once with the recipe's file name.
    ///
    /// For a plan only (`planOnly`), a model or Accelerate config that is not on this machine is
    /// a warning, returned, not an error: a GPU recipe's plan prints anywhere.
    @discardableResult
    public func checkInputs(recipePath: String, planOnly: Bool = false) throws -> [String] {
        func fail(_ reason: String) -> RecipeError { RecipeError.invalid(path: recipePath, line: 0, reason: reason) }
        var warnings: [String] = []
        func missing(_ reason: String) throws {
            guard planOnly else { throw fail(reason) }
            warnings.append("\(recipePath): \(reason); the run needs it")
        }
        if ModelStore.known[model] == nil && !FileManager.default.fileExists(atPath: model) {
            try missing("model '\(model)' is neither a known name (\(ModelStore.known.keys.sorted().joined(separator: ", "))) nor an existing path")
        }
        if let config = trainer.accelerateConfig, !FileManager.default.fileExists(atPath: config) {
            try missing("trainer.accelerate_config: \(config) does not exist")
        }
        for (key, path) in [("data.policy", data.policy), ("data.prompts", data.prompts), ("data.templates_dir", data.templatesDir),
                            ("data.data_dir", data.dataDir)] {
            if let path, !FileManager.default.fileExists(atPath: path) { throw fail("\(key): \(path) does not exist") }
        }
        let sources = data.harmfulSources + data.benignSources + data.evalSources + data.jailbreakEvalSources
        for s in sources {
            if s.hasPrefix("file:") {
                let path = String(s.dropFirst(5))
                if !FileManager.default.fileExists(atPath: path) { throw fail("seed source \(s): \(path) does not exist") }
            } else if !SeedSources.names.contains(s) {
                throw fail("unknown seed source '\(s)' (known: \(SeedSources.names.joined(separator: ", ")), or file:PATH)")
            }
        }
        do { _ = try Suite.named(evaluation.suite) } catch { throw fail("eval.suite '\(evaluation.suite)': \(error)") }
        if let i = initModel {
            // The vocabulary comes from the tokenizer at run time; every other size is checked now.
            do { _ = try i.config(vocabSize: 1) } catch { throw fail("init: \(error)") }
        }
        return warnings
    }

    /// Known stage names, and TRL's settings only with the TRL engine.
    static func checkTrainer(_ t: Trainer, path: String, line: Int) throws -> Trainer {
        for name in t.stages ?? [] where !Trainer.stageNames.contains(name) {
            throw RecipeError.invalid(path: path, line: line, reason: "trainer: unknown stage '\(name)' (training stages: \(Trainer.stageNames.joined(separator: ", ")))")
        }
        if t.engine == .saro, t.stages != nil || t.python != nil || t.accelerateConfig != nil {
            throw RecipeError.invalid(path: path, line: line, reason: "trainer: stages, python and accelerate_config are TRL's settings: give engine: trl with them")
        }
        return t
    }

    /// Both commands or neither (every run evaluates adapters); servers already running or
    /// started ones, not both, and running ones only for a base model they can hold (not one
    /// the run draws at random); limits that make sense.
    static func checkEngine(_ e: Engine, randomBase: Bool, path: String, line: Int) throws -> Engine {
        func fail(_ reason: String) -> RecipeError { .invalid(path: path, line: line, reason: "engine: \(reason)") }
        if (e.start == nil) != (e.startAdapter == nil) {
            throw fail("give both start (a model alone) and start_adapter (a model with a LoRA adapter: the run evaluates adapters), or neither for the embedded engine")
        }
        if let urls = e.urls {
            if urls.isEmpty { throw fail("urls lists no server (leave it out for none)") }
            for u in urls where URL(string: u)?.host == nil || !(u.hasPrefix("http://") || u.hasPrefix("https://")) {
                throw fail("urls: '\(u)' is not an http(s) base URL (for example http://gpu-node:8000/v1)")
            }
            if e.start != nil {
                throw fail("give urls (servers already running the base model; they serve every model of the run as an adapter on it) or start and start_adapter (servers saro starts), not both")
            }
            if randomBase { throw fail("urls: the base model is drawn at random by the run (init:), so no running server holds it: leave urls out") }
        } else if e.servedModel != nil || e.apiKeyEnv != nil {
            throw fail("served_model and api_key_env describe the servers in urls: give urls with them")
        }
        if let a = e.startAdapter, !a.contains("{adapter}") { throw fail("start_adapter must pass {adapter} to the server") }
        for c in [e.start, e.startAdapter].compactMap({ $0 }) where !c.contains("{port}") || !c.contains("{model}") {
            throw fail("'\(c)' must contain {model} and {port}")
        }
        if e.maxConcurrency < 1 { throw fail("max_concurrency must be at least 1") }
        if e.replicas < 1 { throw fail("replicas must be at least 1") }
        if e.maxRetries < 0 { throw fail("max_retries must be 0 or more") }
        for (k, v) in [("timeout", e.timeout), ("startup_timeout", e.startupTimeout)] where !(v > 0 && v.isFinite) { throw fail("\(k) must be a positive number of seconds") }
        return e
    }

    /// A run name becomes a folder under runs/: one path component, no way out of it.
    static func checkName(_ name: String, path: String, line: Int) throws {
        let allowed = name.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || "._-".unicodeScalars.contains($0) }
        guard !name.isEmpty, allowed, !name.hasPrefix(".") else {
            throw RecipeError.invalid(path: path, line: line, reason: "name '\(name)' must be letters, digits, '.', '_' or '-' (it names the folder runs/NAME) and not start with '.'")
        }
    }
}

extension Recipe.Init {
    /// The random model's configuration for a tokenizer of `vocabSize` tokens, checked.
    func config(vocabSize: Int) throws -> LlamaConfig {
        let config = LlamaConfig(vocabSize: vocabSize, hiddenSize: hiddenSize, intermediateSize: intermediateSize, numHiddenLayers: layers,
                                 numAttentionHeads: heads, numKeyValueHeads: kvHeads, maxPositionEmbeddings: maxPositions, tieWordEmbeddings: true)
        try config.validate()
        return config
    }
}
