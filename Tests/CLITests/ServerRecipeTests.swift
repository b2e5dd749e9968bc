import Foundation
import Support
import Judges
import Models
import OpenAIClient
@testable import Recipes
import SaRO
import Testing

/// `saro run recipes/tiny-server.yaml`: every generating stage on a server the run starts
/// (`saro serve` standing in for vLLM). Killed while a server-backed stage runs, the run leaves
/// no server behind, and a rerun finishes every stage.
@Suite(.tags(.process)) struct ServerRecipeTests {
    /// This machine's processes and their command lines.
    static func commandLines() -> [(pid: pid_t, line: String)] {
        let pids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc"))?.compactMap { pid_t($0) } ?? []
        return pids.compactMap { pid in
            FileManager.default.contents(atPath: "/proc/\(pid)/cmdline").map { (pid, String(decoding: $0.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)) }
        }
    }

    /// Servers whose command line mentions `text` (those of one run folder).
    static func processes(mentioning text: String) -> [String] {
        commandLines().map(\.line).filter { $0.contains(text) && $0.contains(" serve ") }
    }

    @Test func serverBackedRunKilledAndRerunFinishes() throws {
        let out = TrainResumeTests.work("recipe-tiny-server")
        let recipe = TrainResumeTests.repo.appendingPathComponent("recipes/tiny-server.yaml").path
        let plan = try CLITests.saro(["run", recipe, "--out", out.path, "--dry-run"])
        #expect(plan.status == 0 && plan.out.contains("on SaRO (server)"), "\(plan.out)\(plan.err)")

        let p = try CLITests.startInBackground(["run", recipe, "--out", out.path, "--quiet"])
        // Kill it once the OP-COT stage has its server.
        let opcotLog = out.appendingPathComponent("logs/server-data-opcot.log").path
        let deadline = Date().addingTimeInterval(600)
        while Date() < deadline && p.isRunning && !((try? String(contentsOfFile: opcotLog, encoding: .utf8)) ?? "").contains("serving") {
            Thread.sleep(forTimeInterval: 0.05)
        }
        CLITests.killAndReap(p)
        // The watchdog beside the server stops it within a few seconds.
        let gone = Date().addingTimeInterval(20)
        while Date() < gone && !Self.processes(mentioning: out.path).isEmpty { Thread.sleep(forTimeInterval: 0.2) }
        #expect(Self.processes(mentioning: out.path).isEmpty, "\(Self.processes(mentioning: out.path))")

        let rerun = try CLITests.saro(["run", recipe, "--out", out.path, "--quiet"])
        #expect(rerun.status == 0, "\(rerun.err.suffix(2000))")
        #expect(rerun.err.contains("data-ritd: done, inputs unchanged (skipped)"), "\(rerun.err.suffix(2000))")
        for log in ["data-ritd", "data-opcot", "eval-base", "eval-rw", "eval-saro"] {
            let text = (try? String(contentsOf: out.appendingPathComponent("logs/server-\(log).log"), encoding: .utf8)) ?? ""
            #expect(text.contains("serving 'saro-\(log)'"), "\(log): \(text)")
        }
        #expect(Self.processes(mentioning: out.path).isEmpty)
        for label in ["base", "rw", "saro"] {
            let dir = out.appendingPathComponent("eval/\(label)")
            let results = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("results.json"))) as! [String: Any]
            let benchmarks = results["benchmarks"] as! [String: [String: Double]]
            // Generated benchmarks were answered; references scored through the server's prompt log-probs; no hidden states.
            #expect(benchmarks["xstest"]?["safe_count"] ?? 0 > 0 && benchmarks["harmbench"]?["count"] ?? 0 > 0, "\(benchmarks)")
            #expect(benchmarks["nll-gsm8k"]?["mean_nll"].map { $0.isFinite && $0 > 0 } == true && benchmarks["nll-gsm8k"]?["count"] == 3, "\(benchmarks)")
            #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("embedding.json").path))
        }
        let samples = try String(contentsOf: out.appendingPathComponent("data/opcot.jsonl"), encoding: .utf8)
        #expect(!samples.isEmpty)
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("report.html").path))
        let again = try CLITests.saro(["run", recipe, "--out", out.path, "--dry-run"])
        #expect(!again.out.contains("to do") && !again.out.contains("changed"), "\(again.out)")
    }

    /// `saro serve` as a server the user started (with run-time adapters, as vLLM with
    /// VLLM_ALLOW_RUNTIME_LORA_UPDATING=True), its output in `log`; returns it and its base URL.
    static func startUsersServer(model: String, log: URL) throws -> (CLITests.Background, String) {
        try? FileManager.default.removeItem(at: log)
        let p = try CLITests.Background([CLITests.binary.path, "serve", "--model", model, "--port", "0", "--served-model-name", "tiny-base",
                                         "--enable-runtime-lora", "--max-batch", "8"], output: .appending(log.path), error: .standardOutput)
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            if let m = text.firstMatch(of: #/serving 'tiny-base' on (http://127\.0\.0\.1:\d+)/#) { return (p, String(m.output.1) + "/v1") }
            Thread.sleep(forTimeInterval: 0.1)
        }
        CLITests.killAndReap(p)
        throw CLIError("the user's server did not come up: \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
    }

    struct CLIError: Error, CustomStringConvertible { let description: String; init(_ d: String) { description = d } }

    /// engine.urls: every model of the run is served by a server that was running before the
    /// run, with the base model: each stage loads its adapter into it (RW's for the RW model,
    /// RW's and SRPO's stacked for SaRO) and unloads it after; the run starts no server.
    @Test func runUsesServersAlreadyRunningForTheBaseModel() throws {
        let out = TrainResumeTests.work("recipe-tiny-attached")
        let repo = TrainResumeTests.repo
        let gpt2 = repo.appendingPathComponent("Tests/ModelsTests/Golden/tokenizers/gpt2").path
        let tokenizer = try PretrainedModel.loadTokenizer(gpt2)
        let config = LlamaConfig(vocabSize: tokenizer.vocabularySize, hiddenSize: 32, intermediateSize: 64, numHiddenLayers: 2,
                                 numAttentionHeads: 4, numKeyValueHeads: 2, maxPositionEmbeddings: 1024, tieWordEmbeddings: true)
        let base = out.appendingPathComponent("user-models/tiny-base")
        try ModelWriter.save(config: config, weights: LlamaModel.initialWeights(config: config, seed: 1, std: 0.1), tokenizer: tokenizer, to: base)
        let (server, url) = try Self.startUsersServer(model: base.path, log: out.appendingPathComponent("user-server.log"))
        defer { CLITests.killAndReap(server) }

        var recipe = try String(contentsOf: repo.appendingPathComponent("recipes/tiny-server.yaml"), encoding: .utf8)
        recipe = recipe.replacing(#/\nmodel: .*\ninit: .*\n/#, with: "\nmodel: \(base.path)\n")
            .replacing(#/\n  start: .*\n  start_adapter: .*\n/#, with: "\n  urls: [\(url)]\n  served_model: tiny-base\n")
            .replacingOccurrences(of: "baselines: {safety_sft: false, safety_dpo: false}", with: "baselines: {safety_sft: true, safety_dpo: false}")
            .replacingOccurrences(of: "embeddings: true, embedding_count: 4", with: "embeddings: false")
        #expect(recipe.contains("urls: [") && !recipe.contains("init:") && !recipe.contains("start_adapter") && recipe.contains("safety_sft: true"), "\(recipe)")
        let file = out.appendingPathComponent("tiny-attached.yaml")
        try recipe.write(to: file, atomically: true, encoding: .utf8)

        let run = try CLITests.saro(["run", file.path, "--out", out.appendingPathComponent("run").path, "--quiet"], cwd: repo)
        #expect(run.status == 0, "\(run.err.suffix(3000))")
        let dir = out.appendingPathComponent("run")
        let log = try String(contentsOf: dir.appendingPathComponent("run.log"), encoding: .utf8)
        #expect(log.contains("data-ritd: server at \(url)") && log.contains("eval-base: server at \(url)"), "\(log.suffix(3000))")
        for (stage, adapter) in [("eval-safety-sft", "checkpoints/safety-sft"), ("data-opcot", "checkpoints/rw"), ("eval-rw", "checkpoints/rw"),
                                 ("eval-saro", "models/saro-with-rw")] {
            #expect(log.contains("\(stage): server at \(url) with adapter saro-\(stage) loaded from \(dir.path)/\(adapter)"), "\(stage): \(log.suffix(3000))")
        }
        // The run started no server of its own.
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("logs").path)) ?? []).filter { $0.hasPrefix("server-") }.isEmpty)
        for label in ["base", "safety-sft", "rw", "saro"] {
            let results = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("eval/\(label)/results.json"))) as! [String: Any]
            let benchmarks = results["benchmarks"] as! [String: [String: Double]]
            #expect(benchmarks["harmbench"]?["count"] ?? 0 > 0 && benchmarks["nll-gsm8k"]?["mean_nll"].map { $0.isFinite && $0 > 0 } == true, "\(label): \(benchmarks)")
        }
        // SaRO through the stacked adapter on the base scores the reference answers as saro's
        // own engine does on the merged RW model with SaRO's adapter.
        let alone = out.appendingPathComponent("eval-saro-embedded")
        let embedded = try CLITests.saro(["eval", "--model", dir.appendingPathComponent("models/rw").path, "--adapter", dir.appendingPathComponent("checkpoints/saro").path,
                                          "--suite", "quick", "--config", file.path, "--label", "SaRO", "--out", alone.path, "--quiet"], cwd: repo)
        #expect(embedded.status == 0, "\(embedded.err.suffix(2000))")
        func nll(_ dir: URL) throws -> Double? {
            let r = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("results.json"))) as! [String: Any]
            return (r["benchmarks"] as! [String: [String: Double]])["nll-gsm8k"]?["mean_nll"]
        }
        let served = try #require(try nll(dir.appendingPathComponent("eval/saro"))), own = try #require(try nll(alone))
        #expect(abs(served - own) <= 1e-4 * own, "served \(served) vs embedded \(own)")
        // The adapter is unloaded: the user's server lists its base model alone again.
        let models = try Data(contentsOf: URL(string: url + "/models")!)
        let ids = ((try JSONSerialization.jsonObject(with: models) as! [String: Any])["data"] as! [[String: Any]]).compactMap { $0["id"] as? String }
        #expect(ids == ["tiny-base"], "\(ids)")
        #expect(server.isRunning, "saro never stops a server it did not start")
    }

    /// What engine.urls needs beside it, named with the recipe's file and line.
    @Test func engineSectionErrors() throws {
        let tiny = try String(contentsOf: TrainResumeTests.repo.appendingPathComponent("recipes/tiny.yaml"), encoding: .utf8)
        let start = "start: \"{saro} serve --model {model} --port {port}\", start_adapter: \"{saro} serve --model {model} --adapter {adapter} --port {port}\""
        let withoutInit = tiny.replacing(#/\ninit: .*\n/#, with: "\n")
        let cases: [(String, String, String)] = [
            (withoutInit, "engine: {urls: [http://gpu:8000/v1], \(start)}", "not both"),
            (tiny, "engine: {urls: [http://gpu:8000/v1]}", "drawn at random by the run (init:)"),
            (withoutInit, "engine: {urls: [gpu:8000]}", "'gpu:8000' is not an http(s) base URL"),
            (withoutInit, "engine: {urls: []}", "urls lists no server"),
            (withoutInit, "engine: {served_model: llama, \(start)}", "give urls with them"),
            (withoutInit, "engine: {start: \"vllm serve {model} --port {port}\"}", "give both start"),
        ]
        for (base, engine, message) in cases {
            #expect { try Recipe.parse(base + "\n" + engine + "\n", path: "r.yaml") } throws: { error in
                "\(error)".hasPrefix("r.yaml:") && "\(error)".contains(message)
            }
        }
        let ok = try Recipe.parse(withoutInit + "\nengine: {urls: [http://gpu:8000/v1, http://gpu2:8000/v1], served_model: llama, api_key_env: VLLM_KEY}\n", path: "r.yaml")
        #expect(ok.engine.urls == ["http://gpu:8000/v1", "http://gpu2:8000/v1"] && ok.engine.servedModel == "llama" && ok.engine.apiKeyEnv == "VLLM_KEY" && !ok.engine.isEmbedded)
    }

    /// ablations: true (as in recipes/tiny.yaml, which CI runs end to end) trains SRPO on each
    /// kind of pair alone beside SaRO and evaluates both.
    /// The rules' version is part of every evaluation's fingerprint (main and frontier), so a
    /// change of the rules judges the stored answers again; data stages keep their verdicts.
    @Test func evaluationsAreFingerprintedWithTheRulesVersion() throws {
        let tiny = try String(contentsOf: TrainResumeTests.repo.appendingPathComponent("recipes/tiny.yaml"), encoding: .utf8)
        let pipeline = try Pipeline(recipe: Recipe.parse(tiny + "\nfrontier: {points: 2}\n", path: "r.yaml"), out: TrainResumeTests.work("plan-rules").path) { _ in }
        let stages = try pipeline.stages()
        let version = String(Pipeline.settings(["rules": RuleJudge().identity]).dropFirst().dropLast())  // "rules":"<identity>"
        let evaluations = stages.filter { $0.name.hasPrefix("eval-") }
        #expect(evaluations.count > 5 && evaluations.contains { $0.name.hasSuffix("-1of2") } && evaluations.allSatisfy { $0.settings.contains(version) }, "\(evaluations.map(\.name))")
        #expect(stages.filter { $0.name.hasPrefix("data-") }.allSatisfy { !$0.settings.contains(version) })
    }

    @Test func ablationsAddTheirStagesAndModels() throws {
        let tiny = try String(contentsOf: TrainResumeTests.repo.appendingPathComponent("recipes/tiny.yaml"), encoding: .utf8)
        #expect(tiny.contains("\nablations: true\n"))
        let out = TrainResumeTests.work("plan-ablations").path
        let plain = try Pipeline(recipe: Recipe.parse(tiny.replacingOccurrences(of: "\nablations: true\n", with: "\n"), path: "r.yaml"), out: out) { _ in }
        #expect(!plain.evaluated.contains { $0.label.hasPrefix("RW+") })
        let pipeline = try Pipeline(recipe: Recipe.parse(tiny, path: "r.yaml"), out: out) { _ in }
        #expect(pipeline.evaluated.map(\.label) == ["Base", "Safety-SFT", "Safety-DPO", "RW", "RW+OP-COT", "RW+PP-COT", "SaRO", "SaRO+SRS"])
        let names = try pipeline.stages().map(\.name)
        for stage in ["train-saro-opcot", "train-saro-ppcot", "eval-rw-op-cot", "eval-rw-pp-cot"] { #expect(names.contains(stage), "\(names)") }
        let opcotOnly = try #require(names.firstIndex(of: "train-saro-opcot")), ppcot = try #require(names.firstIndex(of: "data-ppcot"))
        #expect(opcotOnly > ppcot)
    }

    /// step_judge: the rules by default, or an endpoint; anything else names the line.
    @Test func stepJudgeKey() throws {
        let tiny = try String(contentsOf: TrainResumeTests.repo.appendingPathComponent("recipes/tiny.yaml"), encoding: .utf8)
        #expect(try Recipe.parse(tiny, path: "r.yaml").stepJudge == .rules)
        let endpoint = try Recipe.parse(tiny + "\nstep_judge: {base_url: http://judge:8000/v1, model: qwen}\n", path: "r.yaml")
        #expect(endpoint.stepJudge == .endpoint(ChatEndpoint(baseURL: "http://judge:8000/v1", model: "qwen")))
        #expect { try Recipe.parse(tiny + "\nstep_judge: llama\n", path: "r.yaml") } throws: { error in
            "\(error)".hasPrefix("r.yaml:") && "\(error)".contains("step_judge is 'rules' or an endpoint mapping")
        }
    }

    /// judge: the rules by default, the shipped trained judge by name, or a folder from saro
    /// judge train; anything else names the line.
    @Test func trainedJudgeKey() throws {
        let tiny = try String(contentsOf: TrainResumeTests.repo.appendingPathComponent("recipes/tiny.yaml"), encoding: .utf8)
        #expect(try Recipe.parse(tiny, path: "r.yaml").judge == .rules)
        let shipped = try Recipe.parse(tiny + "\njudge: trained\n", path: "r.yaml")
        #expect(shipped.judge == .trained(try TrainedJudges.shipped()))
        #expect(try Recipe.parse(tiny + "\njudge: {trained: judges/mine}\n", path: "r.yaml").judge == .trained("judges/mine"))
        #expect { try Recipe.parse(tiny + "\njudge: probe\n", path: "r.yaml") } throws: { error in
            "\(error)".hasPrefix("r.yaml:") && "\(error)".contains("'trained' (the shipped judges)")
        }
    }
}
