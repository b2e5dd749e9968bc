import Foundation
import Testing

/// `saro train` killed with SIGKILL mid-run and resumed gives the same losses, step for step,
/// as a run that was never interrupted; every checkpoint folder on disk is complete.
@Suite(.tags(.process)) struct TrainResumeTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func work(_ name: String) -> URL {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("saro-resume-\(getpid())-\(name)")
        try? FileManager.default.removeItem(at: d)
        try? FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }

    static func losses(_ dir: URL) throws -> [Int: Double] {
        var out: [Int: Double] = [:]
        for line in try String(contentsOf: dir.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n") {
            let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            if let s = o["step"] as? Int, let l = o["loss"] as? Double { out[s] = l }
        }
        return out
    }

    @Test func sigkillAndResumeReproducesTheUninterruptedRun() throws {
        let root = Self.work("sft")
        let model = root.appendingPathComponent("model").path
        let tokenizer = Self.repo.appendingPathComponent("Tests/ModelsTests/Golden/tokenizers/gpt2").path
        let initRun = try CLITests.saro(["model", "init", "--tokenizer-from", tokenizer, "--hidden-size", "32", "--intermediate-size", "64",
                                         "--layers", "2", "--heads", "4", "--kv-heads", "2", "--std", "0.1", "--seed", "3", "--out", model])
        #expect(initRun.status == 0, "\(initRun.err)")
        let data = root.appendingPathComponent("train.jsonl")
        let lines = (0..<24).map { i in #"{"messages": [{"role": "user", "content": "Question \#(i): what is \#(i) times 3?"}, {"role": "assistant", "content": "<think>\nMultiply.\n</think>\n\#(i * 3)"}]}"# }
        try Data(lines.joined(separator: "\n").utf8).write(to: data)
        let config = root.appendingPathComponent("train.yaml")
        try Data("""
            model: \(model)
            data: \(data.path)
            max-steps: 10
            batch_size: 2
            grad-accum: 2
            save-steps: 2
            logging-steps: 1
            lr: 0.003
            lora-dropout: 0.1
            warmup_ratio: 0.2
            lr_schedule: cosine
            """.utf8).write(to: config)

        let straight = root.appendingPathComponent("straight")
        let a = try CLITests.saro(["train", "sft", "--config", config.path, "--out", straight.path, "--quiet"])
        #expect(a.status == 0, "\(a.err)")
        let expected = try Self.losses(straight)
        #expect(expected.count == 10)

        // Start the same run, kill it once it has checkpointed and moved on, then resume.
        let killed = root.appendingPathComponent("killed")
        let p = try CLITests.Background([CLITests.binary.path, "train", "sft", "--config", config.path, "--out", killed.path, "--quiet"])
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline {
            if let l = try? Self.losses(killed), l.count >= 5 { break }
            Thread.sleep(forTimeInterval: 0.02)
        }
        #expect(p.wait(signal: SIGKILL).signalled)
        let before = try Self.losses(killed).count
        #expect(before >= 5 && before < 10, "killed after \(before) steps")
        // Every checkpoint folder present is complete.
        for name in try FileManager.default.contentsOfDirectory(atPath: killed.path) where name.hasPrefix("checkpoint-") {
            for f in ["trainer_state.json", "optimizer.safetensors", "adapter_model.safetensors", "adapter_config.json"] {
                #expect(FileManager.default.fileExists(atPath: killed.appendingPathComponent(name).appendingPathComponent(f).path), "\(name)/\(f)")
            }
        }
        let b = try CLITests.saro(["train", "sft", "--config", config.path, "--out", killed.path, "--resume", "--quiet"])
        #expect(b.status == 0, "\(b.err)")
        let resumed = try Self.losses(killed)
        #expect(resumed.count == 10)
        for step in 1...10 {
            let x = expected[step] ?? .nan, y = resumed[step] ?? .infinity
            #expect(abs(x - y) <= 1e-6 * max(1, abs(x)), "step \(step): \(x) uninterrupted, \(y) resumed")
        }
        // The final adapters are the same too.
        let fa = try Data(contentsOf: straight.appendingPathComponent("adapter_model.safetensors"))
        let fb = try Data(contentsOf: killed.appendingPathComponent("adapter_model.safetensors"))
        #expect(fa == fb)
    }

    @Test func unknownConfigKeyIsAnError() throws {
        let root = Self.work("badcfg")
        let config = root.appendingPathComponent("bad.yaml")
        try Data("data: x.jsonl\nout: y\nlearning_rate: 0.1\n".utf8).write(to: config)
        let r = try CLITests.saro(["train", "sft", "--config", config.path])
        #expect(r.status != 0)
        #expect(r.err.contains("unknown key learning_rate"))
    }
}

/// The two SaRO training stages through the command line on a tiny model: SFT, then DPO on top
/// of the merged SFT model, then generation with the DPO adapter.
@Suite(.tags(.process)) struct TrainPipelineCLITests {
    @Test func sftMergeDpoGenerate() throws {
        let root = TrainResumeTests.work("pipeline")
        let tokenizer = TrainResumeTests.repo.appendingPathComponent("Tests/ModelsTests/Golden/tokenizers/gpt2").path
        let base = root.appendingPathComponent("base").path
        #expect(try CLITests.saro(["model", "init", "--tokenizer-from", tokenizer, "--hidden-size", "32", "--intermediate-size", "64",
                                   "--layers", "2", "--heads", "4", "--kv-heads", "2", "--seed", "5", "--out", base]).status == 0)
        let sft = root.appendingPathComponent("sft.jsonl"), dpo = root.appendingPathComponent("dpo.jsonl")
        try Data((0..<8).map { #"{"prompt": "Is \#($0) even?", "completion": "<think>\nCheck the last digit.\n</think>\nYes."}"# }.joined(separator: "\n").utf8).write(to: sft)
        try Data((0..<8).map { #"{"prompt": "Is \#($0) even?", "chosen": "Let me check.", "rejected": "No idea."}"# }.joined(separator: "\n").utf8).write(to: dpo)
        let sftOut = root.appendingPathComponent("sft-out").path, merged = root.appendingPathComponent("merged").path
        let a = try CLITests.saro(["train", "sft", "--model", base, "--data", sft.path, "--out", sftOut, "--max-steps", "3", "--batch-size", "4", "--quiet"])
        #expect(a.status == 0, "\(a.err)")
        let m = try CLITests.saro(["merge", "--model", base, "--adapter", sftOut, "--out", merged])
        #expect(m.status == 0, "\(m.err)")
        let dpoOut = root.appendingPathComponent("dpo-out").path
        let d = try CLITests.saro(["train", "dpo", "--model", merged, "--data", dpo.path, "--out", dpoOut, "--max-steps", "2", "--batch-size", "4",
                                   "--beta", "0.2", "--eval-split", "0.25", "--quiet"])
        #expect(d.status == 0, "\(d.err)")
        let metrics = try String(contentsOfFile: dpoOut + "/metrics.jsonl", encoding: .utf8)
        #expect(metrics.contains("rewards/accuracies") && metrics.contains("eval_loss"))
        let g = try CLITests.saro(["generate", "--model", merged, "--adapter", dpoOut, "--greedy", "--max-tokens", "5", "Is 4 even?"])
        #expect(g.status == 0, "\(g.err)")
        let s = try CLITests.saro(["score", "--json", "--model", merged, "--adapter", dpoOut, "Is 4 even?"])
        #expect(s.status == 0 && s.out.contains("total_logprob"))
    }
}
