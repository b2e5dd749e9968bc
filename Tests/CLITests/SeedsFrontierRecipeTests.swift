import Evaluation
import Foundation
@testable import Recipes
import Testing

/// A recipe with `seeds` and `frontier`: the second seed's stages run in `seed-1/` with their
/// own data and training but the first run's evaluation prompts, the frontier evaluates the
/// checkpoints it kept, and the report has the Seeds and Frontier sections from those files.
@Suite(.tags(.process)) struct SeedsFrontierRecipeTests {
    static func recipe(_ dir: URL) throws -> String {
        let text = """
            name: tiny-seeds
            model: \(TrainResumeTests.repo.appendingPathComponent("Tests/ModelsTests/Golden/tokenizers/gpt2").path)
            init: {hidden_size: 32, intermediate_size: 64, layers: 2, heads: 4, kv_heads: 2, max_positions: 1024, std: 0.1, seed: 1}
            data: {harmful: 3, jailbreak: 3, benign: 3, max_template_chars: 400, answer_tokens: 16}
            sampling: {samples: 2, max_tokens: 16, batch_size: 8}
            rw: {max_steps: 4, batch_size: 2, max_length: 384, lr: 0.003, save_steps: 1, logging_steps: 1}
            srpo: {max_steps: 3, batch_size: 2, max_length: 384, save_steps: 1, logging_steps: 1}
            baselines: {safety_sft: false, safety_dpo: false}
            seeds: 2
            frontier: {points: 3}
            eval: {suite: quick, embeddings: false, batch_size: 8}

            """
        let path = dir.appendingPathComponent("recipe.yaml")
        try text.write(to: path, atomically: true, encoding: .utf8)
        return path.path
    }

    @Test func secondSeedAndFrontierPointsReachTheReport() throws {
        let work = TrainResumeTests.work("recipe-seeds")
        let recipe = try Self.recipe(work)
        let out = work.appendingPathComponent("run")
        let plan = try CLITests.saro(["run", recipe, "--out", out.path, "--dry-run"])
        #expect(plan.status == 0, "\(plan.err)")
        for stage in ["seed-1/train-rw", "seed-1/eval-saro", "eval-rw-1of3", "eval-saro-2of3"] { #expect(plan.out.contains(" \(stage) "), "\(stage): \(plan.out)") }
        // The base model is made and evaluated once.
        #expect(!plan.out.contains("seed-1/eval-base") && !plan.out.contains("seed-1/init-model"), "\(plan.out)")

        let run = try CLITests.saro(["run", recipe, "--out", out.path, "--quiet"])
        #expect(run.status == 0, "\(run.err.suffix(3000))")
        let records = try #require(RecipeRunTests.records(out))
        // 10 stages of run 0, 8 of seed 1, 4 frontier points (RW and SaRO at 1/3 and 2/3), the report.
        #expect(records.stages.count == 23, "\(records.stages.keys.sorted())")

        // Seed 1 trained on its own draw of data, and its models answered run 0's prompts.
        let data0 = try String(contentsOf: out.appendingPathComponent("data/ritd.jsonl"), encoding: .utf8)
        let data1 = try String(contentsOf: out.appendingPathComponent("seed-1/data/ritd.jsonl"), encoding: .utf8)
        #expect(data0 != data1)
        func prompts(_ dir: URL) throws -> [String] {
            try String(contentsOf: dir.appendingPathComponent("examples.jsonl"), encoding: .utf8).split(separator: "\n").map { line in
                let e = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
                return (e["example"] as! [String: Any])["prompt"] as! String
            }.sorted()
        }
        #expect(try prompts(out.appendingPathComponent("eval/saro")) == prompts(out.appendingPathComponent("seed-1/eval/saro")))

        // RW saved at steps 1-4 and SRPO at 1-3: the frontier kept the nearest to 1/3 and 2/3
        // of each run and the last, and evaluated those on held-out families and safe prompts only.
        let rwSteps = Set(try FileManager.default.contentsOfDirectory(atPath: out.appendingPathComponent("checkpoints/rw").path).filter { $0.hasPrefix("checkpoint-") })
        #expect(rwSteps == ["checkpoint-1", "checkpoint-3", "checkpoint-4"], "\(rwSteps)")
        let point = try ReportModel.load(directory: out.appendingPathComponent("eval/frontier/saro-2of3").path)
        #expect(point.results.label == "SaRO step 2/3")
        #expect(!point.examples.isEmpty && point.examples.allSatisfy { $0.example.groups["split"] == "held_out" || $0.example.groups["label"] == "safe" })
        #expect(Set(point.examples.map(\.benchmark)) == ["jailbreak", "xstest"])
        let whole = try ReportModel.load(directory: out.appendingPathComponent("eval/saro").path)
        let wholeIDs = Set(whole.examples.map(\.example.id))
        #expect(point.examples.allSatisfy { wholeIDs.contains($0.example.id) })

        let summary = try String(contentsOf: out.appendingPathComponent("report.md"), encoding: .utf8)
        #expect(summary.contains("## Seeds") && summary.contains("## Frontier"), "\(summary)")
        // Two runs of SaRO, one of the base model; each SaRO checkpoint is a row of the frontier table.
        #expect(summary.contains(#/\| SaRO \| 2 \| /#) && summary.contains(#/\| Base \| 1 \| /#), "\(summary)")
        for label in ["RW step 1/4", "RW step 3/4", "SaRO step 1/3", "SaRO step 2/3"] { #expect(summary.contains("| \(label) |"), "\(label): \(summary)") }
        let page = try String(contentsOf: out.appendingPathComponent("report.html"), encoding: .utf8)
        #expect(page.contains("<section id=\"frontier\"><h2>Frontier</h2><svg") && page.contains("<section id=\"seeds\">"))

        // Nothing is left to do, and a changed seed count adds or drops only seed stages.
        let again = try CLITests.saro(["run", recipe, "--out", out.path, "--dry-run"])
        #expect(!again.out.contains("to do") && !again.out.contains("changed"), "\(again.out)")
    }
}
