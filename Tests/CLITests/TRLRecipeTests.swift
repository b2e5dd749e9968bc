import Foundation
import Support
import Testing
import Models
import Tokenizers

/// `saro run recipes/tiny-trl.yaml`: RW and SRPO trained by TRL under `accelerate launch` on
/// this CPU (in the environment scripts/setup-trl.sh makes, which scripts/test.sh sets up),
/// every generation on two replicas of `saro serve` started by the recipe. Killed while TRL trains, the run
/// leaves no trainer behind and a rerun resumes TRL from its checkpoint; the TRL stage's first
/// loss is saro's own SFT loss on the same first batch.
@Suite(.tags(.process)) struct TRLRecipeTests {
    /// The launcher and trainer processes of one run folder.
    static func trainers(mentioning text: String) -> [(pid: pid_t, line: String)] {
        ServerRecipeTests.commandLines().filter { $0.line.contains(text) && $0.line.contains("trl_train.py") }
    }

    static func metrics(_ path: URL) throws -> [[String: Any]] {
        try String(contentsOf: path, encoding: .utf8).split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
    }

    /// A run stopped while transformers wrote a checkpoint leaves a folder without a whole
    /// trainer_state.json: trl_train.py resumes from the newest whole one and removes the other.
    @Test func resumeSkipsACheckpointLeftHalfWritten() throws {
        let dir = TrainResumeTests.work("trl-checkpoints")
        for (step, state) in [(2, #"{"global_step": 2}"#), (4, #"{"global_step": 4}"#), (6, "")] {
            let folder = dir.appendingPathComponent("checkpoint-\(step)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try Data(state.utf8).write(to: folder.appendingPathComponent("trainer_state.json"))
        }
        let script = TrainResumeTests.repo.appendingPathComponent("Sources/TRLBridge/Resources/trl_train.py").path
        let python = ModelStore.cacheDirectory.appendingPathComponent("trl-venv/bin/python").path
        let r = try Subprocess.run([python, "-c", """
            import importlib.util, sys
            spec = importlib.util.spec_from_file_location("trl_train", sys.argv[1])
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            print(module.last_complete_checkpoint(sys.argv[2]))
            """, script, dir.path])
        #expect(r.succeeded, "\(r.stderrTail(5))")
        #expect(String(decoding: r.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) == dir.appendingPathComponent("checkpoint-4").path)
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("checkpoint-6").path))
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("checkpoint-2").path))
    }

    @Test func trlStagesResumeAfterAKillAndMatchSarosFirstLoss() throws {
        let out = TrainResumeTests.work("recipe-tiny-trl")
        let recipe = TrainResumeTests.repo.appendingPathComponent("recipes/tiny-trl.yaml").path
        let plan = try CLITests.saro(["run", recipe, "--out", out.path, "--dry-run"])
        #expect(plan.status == 0, "\(plan.out)\(plan.err)")
        let planned = plan.out.split(separator: "\n")
        #expect(planned.contains { $0.contains("train-rw") && $0.contains("(TRL)") } && planned.contains { $0.contains("train-saro") && $0.contains("(TRL)") }, "\(plan.out)")

        // Kill the run once TRL has saved its first RW checkpoint (of eight). The tiny model's
        // steps take milliseconds, so the trainer is frozen first: it would otherwise finish
        // in the second the watchdog takes to notice, and leave nothing to resume.
        let p = try CLITests.startInBackground(["run", recipe, "--out", out.path, "--quiet"])
        let firstCheckpoint = out.appendingPathComponent("checkpoints/rw/trl/checkpoint-5/trainer_state.json").path
        let deadline = Date().addingTimeInterval(600)
        // Whole, not only begun: transformers writes the file in place, and a trainer frozen
        // mid-write leaves a checkpoint that the rerun has to drop (trl_train.py does).
        func written() -> Bool { (try? JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: firstCheckpoint)))) != nil }
        while Date() < deadline && p.isRunning && !written() { Thread.sleep(forTimeInterval: 0.01) }
        // Not the watchdog: it is the shell whose command line names the launcher.
        let frozen = Self.trainers(mentioning: out.path).filter { !$0.line.hasPrefix("/bin/sh") }
        for t in frozen { kill(t.pid, SIGSTOP) }
        CLITests.killAndReap(p)
        try #require(FileManager.default.fileExists(atPath: firstCheckpoint), "the run ended before TRL saved checkpoint-5")
        try #require(!frozen.isEmpty, "no trainer running at checkpoint-5")
        // The watchdog signals the launcher's whole process group within a second or two; the
        // frozen trainer acts on it as soon as it runs again.
        Thread.sleep(forTimeInterval: 3)
        for t in frozen { kill(t.pid, SIGCONT) }
        let gone = Date().addingTimeInterval(20)
        while Date() < gone && !Self.trainers(mentioning: out.path).isEmpty { Thread.sleep(forTimeInterval: 0.2) }
        #expect(Self.trainers(mentioning: out.path).isEmpty, "\(Self.trainers(mentioning: out.path).map(\.line))")

        let rerun = try CLITests.saro(["run", recipe, "--out", out.path])
        #expect(rerun.status == 0, "\(rerun.err.suffix(3000))")
        let resumed = rerun.err.firstMatch(of: #/train-rw: TRL resumes from checkpoint-(\d+)/#).flatMap { Int($0.output.1) }
        #expect(resumed.map { $0 >= 5 && $0 < 40 } == true, "\(rerun.err.suffix(3000))")
        #expect(Self.trainers(mentioning: out.path).isEmpty)

        // metrics.jsonl under saro's names, one row per step, kept across the resume.
        let rw = try Self.metrics(out.appendingPathComponent("checkpoints/rw/metrics.jsonl"))
        #expect(rw.map { $0["step"] as? Int } == (1...40).map { $0 }, "\(rw)")
        for row in rw { #expect(Set(row.keys).isSubset(of: ["step", "epoch", "loss", "grad_norm", "learning_rate", "tokens_per_second"]), "\(row)") }
        #expect(rw.allSatisfy { ($0["loss"] as? Double)?.isFinite == true && ($0["grad_norm"] as? Double) != nil })
        let srpo = try Self.metrics(out.appendingPathComponent("checkpoints/saro/metrics.jsonl"))
        #expect(srpo.count == 3 && srpo.allSatisfy { $0["rewards/margins"] != nil && $0["logps/chosen"] != nil }, "\(srpo)")
        // The adapters are PEFT's, read by saro: merged into the RW model, served for SaRO's evaluation.
        for dir in ["checkpoints/rw", "checkpoints/saro"] {
            #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("\(dir)/adapter_model.safetensors").path))
        }
        let results = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("eval/saro/results.json"))) as! [String: Any]
        let benchmarks = results["benchmarks"] as! [String: [String: Double]]
        #expect(benchmarks["harmbench"]?["count"] ?? 0 > 0, "\(benchmarks)")
        // Two server replicas per generating stage, requests spread over both.
        for replica in 0..<2 {
            let log = (try? String(contentsOf: out.appendingPathComponent("logs/server-eval-saro-\(replica).log"), encoding: .utf8)) ?? ""
            #expect(log.contains("serving 'saro-eval-saro'"), "replica \(replica): \(log)")
        }
        let nll = try #require((results["benchmarks"] as? [String: [String: Double]])?["nll-gsm8k"]?["mean_nll"])
        #expect(nll.isFinite && nll > 0)
        let report = try String(contentsOf: out.appendingPathComponent("report.md"), encoding: .utf8)
        #expect(report.contains("SaRO"))

        // One data path, two engines: saro's trainer on the same model, data and options.
        let own = out.appendingPathComponent("saro-sft-step1")
        let sft = try CLITests.saro(["train", "sft", "--model", out.appendingPathComponent("models/base").path,
                                     "--data", out.appendingPathComponent("data/ritd.jsonl").path, "--max-steps", "1", "--batch-size", "2",
                                     "--max-length", "384", "--lr", "0.003", "--logging-steps", "1", "--out", own.path])
        #expect(sft.status == 0, "\(sft.err)")
        let sarosLoss = try #require(try Self.metrics(own.appendingPathComponent("metrics.jsonl")).first?["loss"] as? Double)
        let trlLoss = try #require(rw.first?["loss"] as? Double)
        #expect(abs(sarosLoss - trlLoss) < 1e-3, "saro \(sarosLoss), TRL \(trlLoss)")

        // `saro train dpo --engine trl`: the command line's way to the same engine, with a held-out
        // split evaluated at the end; a second run into the same folder needs --resume.
        let dpoOut = out.appendingPathComponent("trl-dpo")
        let dpoArgs = ["train", "dpo", "--engine", "trl", "--model", out.appendingPathComponent("models/rw").path,
                       "--data", out.appendingPathComponent("data/ppcot.jsonl").path, "--max-steps", "2", "--batch-size", "2",
                       "--max-length", "384", "--save-steps", "1", "--logging-steps", "1", "--eval-split", "0.3", "--out", dpoOut.path]
        let dpo = try CLITests.saro(dpoArgs)
        #expect(dpo.status == 0, "\(dpo.err.suffix(2000))")
        #expect(dpo.err.contains("trainable parameters") && !dpo.err.contains(" 0 trainable parameters"), "\(dpo.err.suffix(2000))")
        let dpoRows = try Self.metrics(dpoOut.appendingPathComponent("metrics.jsonl"))
        #expect(dpoRows.filter { $0["loss"] != nil }.count == 2 && dpoRows.contains { $0["eval_loss"] != nil && $0["eval_rewards/margins"] != nil }, "\(dpoRows)")
        #expect(FileManager.default.fileExists(atPath: dpoOut.appendingPathComponent("adapter_model.safetensors").path))
        let again = try CLITests.saro(dpoArgs)
        #expect(again.status != 0 && again.err.contains("--resume"), "\(again.err.suffix(500))")
    }

    /// A Phi-3 Hugging Face folder (written by saro, random weights) trains under TRL + PEFT:
    /// transformers reads saro's config.json as Phi3ForCausalLM, the default LoRA targets reach
    /// PEFT as Phi-3's fused modules, and saro generates with the adapter TRL saved.
    @Test func aPhi3FolderTrainsUnderTRLAndSaroGeneratesWithItsAdapter() throws {
        let out = TrainResumeTests.work("trl-phi3")
        let tokenizer = try Tokenizer(tokenizerJSON: TrainResumeTests.repo.appendingPathComponent("Tests/ModelsTests/Golden/tokenizers/gpt2/tokenizer.json"))
        let config = LlamaConfig(modelType: "phi3", vocabSize: tokenizer.vocabularySize, hiddenSize: 32, intermediateSize: 64, numHiddenLayers: 2,
                                 numAttentionHeads: 4, numKeyValueHeads: 2, maxPositionEmbeddings: 512)
        let model = out.appendingPathComponent("phi3")
        try ModelWriter.save(config: config, weights: LlamaModel.initialWeights(config: config, seed: 5, std: 0.1), tokenizer: tokenizer, to: model)
        let rows = (0..<8).map { i in #"{"messages": [{"role": "user", "content": "Count to \#(i)."}, {"role": "assistant", "content": "<think>\nEasy.\n</think>\n\#(i)"}]}"# }
        let data = out.appendingPathComponent("sft.jsonl")
        try (rows.joined(separator: "\n") + "\n").write(to: data, atomically: true, encoding: .utf8)
        let adapter = out.appendingPathComponent("trl-sft")
        let train = try CLITests.saro(["train", "sft", "--engine", "trl", "--model", model.path, "--data", data.path, "--max-steps", "2", "--batch-size", "2",
                                       "--max-length", "128", "--logging-steps", "1", "--out", adapter.path])
        #expect(train.status == 0, "\(train.err.suffix(2000))")
        let peft = try JSONSerialization.jsonObject(with: Data(contentsOf: adapter.appendingPathComponent("adapter_config.json"))) as? [String: Any]
        #expect(Set(peft?["target_modules"] as? [String] ?? []) == ["qkv_proj", "o_proj", "gate_up_proj", "down_proj"], "\(peft ?? [:])")
        let generated = try CLITests.saro(["generate", "--model", model.path, "--adapter", adapter.path, "--greedy", "--max-tokens", "4", "Count to 3."])
        #expect(generated.status == 0 && !generated.out.isEmpty, "\(generated.err.suffix(1000))")
    }

    /// The GPU recipe's plan prints on this machine: no model folder, no GPUs, no Python.
    @Test func eightBillionRecipePlansHere() throws {
        let recipe = TrainResumeTests.repo.appendingPathComponent("recipes/llama-3.1-8b.yaml").path
        let out = TrainResumeTests.work("plan-8b")
        let plan = try CLITests.saro(["run", recipe, "--out", out.path, "--dry-run"], cwd: TrainResumeTests.repo)
        #expect(plan.status == 0, "\(plan.err)")
        let lines = plan.out.split(separator: "\n")
        for stage in ["train-rw", "train-saro", "train-saro-srs", "train-safety-sft", "train-safety-dpo"] {
            #expect(lines.contains { $0.contains(" \(stage) ") && $0.contains("(TRL)") }, "\(stage): \(plan.out)")
        }
        #expect(lines.filter { $0.contains("(server)") }.count == 7, "\(plan.out)")
        #expect(plan.err.contains("warning:") && plan.err.contains("Llama-3.1-8B-Instruct"), "\(plan.err)")
        // Running it for real needs the model.
        let run = try CLITests.saro(["run", recipe, "--out", out.path], cwd: TrainResumeTests.repo)
        #expect(run.status != 0 && run.err.contains("Llama-3.1-8B-Instruct") && run.err.contains("existing path"), "\(run.err)")
    }

    /// The trainer section's mistakes name the recipe's line; a missing Python environment is a
    /// stage error that says how to make one.
    @Test func trainerSectionErrors() throws {
        let dir = TrainResumeTests.work("trainer-errors")
        let tiny = try String(contentsOf: TrainResumeTests.repo.appendingPathComponent("recipes/tiny.yaml"), encoding: .utf8)
        func write(_ name: String, _ trainer: String) throws -> String {
            let file = dir.appendingPathComponent(name).path
            try (tiny + "\n" + trainer + "\n").write(toFile: file, atomically: true, encoding: .utf8)
            return file
        }
        let unknown = try CLITests.saro(["run", try write("unknown.yaml", "trainer: {engine: trl, stages: [train-foo]}"), "--dry-run"], cwd: TrainResumeTests.repo)
        #expect(unknown.status != 0 && unknown.err.contains("unknown.yaml:") && unknown.err.contains("unknown stage 'train-foo'"), "\(unknown.err)")
        let saroWithPython = try CLITests.saro(["run", try write("saro.yaml", "trainer: {python: /usr/bin/python3}"), "--dry-run"], cwd: TrainResumeTests.repo)
        #expect(saroWithPython.status != 0 && saroWithPython.err.contains("engine: trl"), "\(saroWithPython.err)")
        let engine = try CLITests.saro(["run", try write("engine.yaml", "trainer: {engine: deepspeed}"), "--dry-run"], cwd: TrainResumeTests.repo)
        #expect(engine.status != 0 && engine.err.contains("engine.yaml:"), "\(engine.err)")

        let noPython = try write("no-python.yaml", "trainer: {engine: trl, stages: [train-rw], python: /nonexistent/bin/python}")
        let run = try CLITests.saro(["run", noPython, "--out", dir.appendingPathComponent("run").path, "--quiet"], cwd: TrainResumeTests.repo)
        #expect(run.status != 0 && run.err.contains("stage train-rw: no Python environment for TRL at /nonexistent/bin/python")
                && run.err.contains("scripts/setup-trl.sh"), "\(run.err.suffix(1500))")

        // A Python without the packages: the stage error names what is missing. The run folder
        // is the one above, so only the training stage runs again.
        let system = try #require(["/usr/bin/python3", "/usr/local/bin/python3"].first { FileManager.default.isExecutableFile(atPath: $0) })
        let bare = try write("no-packages.yaml", "trainer: {engine: trl, stages: [train-rw], python: \(system)}")
        let rerun = try CLITests.saro(["run", bare, "--out", dir.appendingPathComponent("run").path, "--quiet"], cwd: TrainResumeTests.repo)
        #expect(rerun.status != 0 && rerun.err.contains("stage train-rw: the TRL run exited with status")
                && rerun.err.contains("No module named"), "\(rerun.err.suffix(1500))")
    }
}
