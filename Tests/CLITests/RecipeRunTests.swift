import Foundation
import Testing

/// `saro run recipes/tiny.yaml`: killed mid-run and rerun, it finishes without redoing the
/// stages that were done, every stage leaves its outputs, and the report has every section.
@Suite(.tags(.process)) struct RecipeRunTests {
    struct Records: Decodable {
        struct Entry: Decodable { var fingerprint: String; var finished: String; var outputs: [String]; var peak_resident_mb: Double? }
        var stages: [String: Entry]
    }

    static func records(_ dir: URL) -> Records? {
        (try? Data(contentsOf: dir.appendingPathComponent("stages.json"))).flatMap { try? JSONDecoder().decode(Records.self, from: $0) }
    }

    @Test func tinyRecipeKilledAndRerunFinishesWithEveryStage() throws {
        let out = TrainResumeTests.work("recipe-tiny")
        let recipe = TrainResumeTests.repo.appendingPathComponent("recipes/tiny.yaml").path
        let plan = try CLITests.saro(["run", recipe, "--out", out.path, "--dry-run"])
        #expect(plan.status == 0 && plan.out.contains("train-saro") && plan.out.contains("to do"), "\(plan.out)\(plan.err)")
        #expect(plan.out.contains("scaled from the reference run by this machine's sgemm speed"), "\(plan.out)")

        // Kill once a few stages are done (inside a later stage), then run again.
        let p = try CLITests.startInBackground(["run", recipe, "--out", out.path, "--quiet"])
        let deadline = Date().addingTimeInterval(600)
        while Date() < deadline && (Self.records(out)?.stages.count ?? 0) < 5 && p.isRunning { Thread.sleep(forTimeInterval: 0.05) }
        Thread.sleep(forTimeInterval: 1)
        CLITests.killAndReap(p)
        let before = try #require(Self.records(out))
        #expect(before.stages.count >= 5 && before.stages.count < 24, "\(before.stages.keys.sorted())")

        let rerun = try CLITests.saro(["run", recipe, "--out", out.path], cwd: TrainResumeTests.repo)
        let err = rerun.err
        #expect(rerun.status == 0, "\(err.suffix(2000))")
        let after = try #require(Self.records(out))
        #expect(after.stages.count == 24)
        for (name, entry) in before.stages {
            // Finished stages were skipped: same record, and the run said so.
            #expect(after.stages[name]?.finished == entry.finished, "\(name) was run again")
            #expect(err.contains("\(name): done, inputs unchanged (skipped)"), "\(name)")
        }
        for (name, entry) in after.stages {
            for o in entry.outputs { #expect(FileManager.default.fileExists(atPath: o), "\(name): \(o)") }
            // Each stage's own peak: above the few MB of an empty process, below the machine.
            #expect((entry.peak_resident_mb ?? 0) > 20 && (entry.peak_resident_mb ?? .infinity) < 24_576, "\(name): \(String(describing: entry.peak_resident_mb))")
        }
        #expect(err.contains("saro: report finished in") && err.contains("peak memory"), "\(err.suffix(2000))")
        let runLog = try String(contentsOf: out.appendingPathComponent("run.log"), encoding: .utf8)
        #expect(runLog.contains(#/train-rw finished in [0-9.]+ s, peak resident memory [0-9]+ MB/#), "\(runLog.suffix(2000))")
        let summary = try String(contentsOf: out.appendingPathComponent("report.md"), encoding: .utf8)
        #expect(summary.contains("## Stages") && summary.contains("| train-rw | ") && summary.contains("| eval-saro | "), "\(summary)")
        let page = try String(contentsOf: out.appendingPathComponent("report.html"), encoding: .utf8)
        for label in ["Base", "Safety-SFT", "Safety-DPO", "RW", "RW+OP-COT", "RW+PP-COT", "SaRO", "SaRO+SRS"] { #expect(page.contains("<td>\(label)</td>"), "\(label)") }
        for id in ["results", "uncertainty", "jailbreak-asr-by-template-family", "xstest-refusal-by-prompt-type", "embedding-space", "training-curves", "reflection-statistics"] {
            #expect(page.contains("<section id=\"\(id)\">"), "\(id)")
        }
        #expect(!page.contains("No data for this section"))
        // `saro eval` with the recipe's suite, data settings and batch size on the SaRO model
        // writes the results the pipeline's eval-saro stage wrote (one assembly path).
        let alone = TrainResumeTests.work("recipe-tiny-eval")
        try? FileManager.default.removeItem(at: alone)
        let evaluated = try CLITests.saro(["eval", "--model", out.appendingPathComponent("models/rw").path, "--adapter", out.appendingPathComponent("checkpoints/saro").path,
                                           "--suite", "quick", "--config", recipe, "--label", "SaRO", "--batch-size", "8", "--embeddings", "--embedding-count", "4",
                                           "--out", alone.path, "--quiet"])
        #expect(evaluated.status == 0, "\(evaluated.err)")
        func results(_ dir: URL) throws -> [String: Any] {
            var r = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("results.json"))) as! [String: Any]
            r["date"] = nil
            return r
        }
        #expect(NSDictionary(dictionary: try results(alone)) == NSDictionary(dictionary: try results(out.appendingPathComponent("eval/saro"))))
        #expect(try Data(contentsOf: alone.appendingPathComponent("examples.jsonl")) == Data(contentsOf: out.appendingPathComponent("eval/saro/examples.jsonl")))
        #expect(try Data(contentsOf: alone.appendingPathComponent("embedding.json")) == Data(contentsOf: out.appendingPathComponent("eval/saro/embedding.json")))
        // A third run does nothing, also in a copy of the run folder elsewhere.
        let again = try CLITests.saro(["run", recipe, "--out", out.path, "--dry-run"])
        #expect(!again.out.contains("to do") && !again.out.contains("changed"), "\(again.out)")
        let copy = TrainResumeTests.work("recipe-tiny-copy")
        try? FileManager.default.removeItem(at: copy)
        try FileManager.default.copyItem(at: out, to: copy)
        let inCopy = try CLITests.saro(["run", recipe, "--out", copy.path, "--dry-run"])
        #expect(inCopy.status == 0 && !inCopy.out.contains("to do") && !inCopy.out.contains("changed"), "\(inCopy.out)")
        // Changed RW data: RW trains again, and the plan shows what follows from it as
        // "upstream change" (the baselines and the base model's evaluation stay done).
        let ritd = copy.appendingPathComponent("data/ritd.jsonl")
        try (String(contentsOf: ritd, encoding: .utf8) + "\n").write(to: ritd, atomically: true, encoding: .utf8)
        let changed = try CLITests.saro(["run", recipe, "--out", copy.path, "--dry-run"]).out.split(separator: "\n")
        func state(_ stage: String) -> String { changed.first { $0.contains(" \(stage) ") }.map(String.init) ?? "" }
        #expect(state("train-rw").contains("inputs changed"), "\(changed)")
        for stage in ["merge-rw", "data-ppcot", "train-saro", "eval-rw", "eval-saro", "report"] { #expect(state(stage).contains("upstream change"), "\(stage): \(changed)") }
        for stage in ["data-ritd", "train-safety-sft", "eval-base", "eval-safety-dpo"] { #expect(state(stage).contains(" done "), "\(stage): \(changed)") }
    }
}
