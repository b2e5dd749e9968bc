import Foundation
import Support
import Testing

/// `scripts/install.sh` and the installed binary run as a user would run them: from an empty
/// folder, with no checkout and no shared data beside it.
@Suite(.serialized, .tags(.process)) struct InstallTests {
    static let root = TrainResumeTests.work("install")

    /// Installs the binary these tests were built with (debug or release) into a fresh prefix.
    static let prefix: URL = {
        let prefix = root.appendingPathComponent("prefix")
        let configuration = CLITests.binary.deletingLastPathComponent().lastPathComponent
        _ = try? Subprocess.run(["/bin/bash", TrainResumeTests.repo.appendingPathComponent("scripts/install.sh").path, "--prefix", prefix.path,
                                 "--configuration", configuration, "--no-build", "--no-setup"])
        return prefix
    }()

    /// The installed `saro` in `cwd`, with no SARO_ variable but the model cache.
    static func installed(_ args: [String], binary: URL? = nil, cwd: URL) throws -> CLITests.Run {
        let environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("SARO_") || $0.key == "SARO_HOME" }
        let r = try CLITests.saro(args, environment: environment, binary: binary ?? prefix.appendingPathComponent("bin/saro"), cwd: cwd)
        #expect(!r.signalled, "\(args.prefix(2)): killed by a signal")
        return r
    }

    static func emptyFolder(_ name: String) -> URL {
        let d = root.appendingPathComponent(name)
        try? FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }

    @Test func installedBinaryEvaluatesBuildsDataAndPlansARunFromAnEmptyFolder() throws {
        #expect(FileManager.default.isExecutableFile(atPath: Self.prefix.appendingPathComponent("bin/saro").path))
        #expect(FileManager.default.fileExists(atPath: Self.prefix.appendingPathComponent("share/saro/saro_SaRO.resources/Resources/data/xstest/xstest_prompts.csv").path))
        let model = try EvalReportTests.tinyModel(Self.root, "tiny", seed: 5)
        let cwd = Self.emptyFolder("cwd")

        let eval = try Self.installed(["eval", "--model", model, "--suite", "quick", "--out", "eval", "--label", "Tiny", "--quiet"], cwd: cwd)
        #expect(eval.status == 0, "\(eval.err)")
        let results = try JSONSerialization.jsonObject(with: Data(contentsOf: cwd.appendingPathComponent("eval/results.json"))) as? [String: Any]
        let benchmarks = try #require(results?["benchmarks"] as? [String: Any])
        for name in ["xstest", "gsm8k", "harmbench"] { #expect(benchmarks[name] != nil, "results.json has \(name)") }

        let data = try Self.installed(["data", "build", "ritd", "--model", model, "--answer-model", model, "--harmful", "2", "--jailbreak", "2",
                                       "--benign", "3", "--out", "data", "--quiet"], cwd: cwd)
        #expect(data.status == 0, "\(data.err)")
        #expect(FileManager.default.fileExists(atPath: cwd.appendingPathComponent("data/ritd.jsonl").path))

        let tokenizer = TrainResumeTests.repo.appendingPathComponent("Tests/ModelsTests/Golden/tokenizers/gpt2").path
        let recipe = cwd.appendingPathComponent("tiny.yaml")
        try Data("""
            name: tiny
            model: \(tokenizer)
            init: {hidden_size: 32, intermediate_size: 64, layers: 2, heads: 4, kv_heads: 2}
            data: {harmful: 2, jailbreak: 2, benign: 2}
            eval: {suite: quick}

            """.utf8).write(to: recipe)
        let plan = try Self.installed(["run", recipe.path, "--dry-run"], cwd: cwd)
        #expect(plan.status == 0, "\(plan.err)")
        #expect(plan.out.contains("train-rw"), "\(plan.out)")
    }

    /// A binary copied without its resources says what is missing and where it looked.
    @Test func binaryWithoutItsResourcesExplains() throws {
        let lone = Self.emptyFolder("lone")
        let binary = lone.appendingPathComponent("saro")
        try? FileManager.default.removeItem(at: binary)
        try FileManager.default.copyItem(at: CLITests.binary, to: binary)
        let r = try Self.installed(["eval", "--model", "x", "--suite", "quick", "--out", "e"], binary: binary, cwd: lone)
        #expect(r.status == 1 && r.err.contains("saro_Evaluation.resources") && r.err.contains("install.sh"), "\(r.err)")
    }

    /// Recipe inputs are checked before the plan: a missing policy, seed file or suite fails the
    /// dry run with the recipe's name (a missing model only warns: see the end); a run name
    /// cannot leave runs/.
    @Test func dryRunChecksWhatTheRecipeNames() throws {
        let cwd = Self.emptyFolder("recipes")
        let cases: [(String, String)] = [
            ("data: {policy: /nonexistent/policy.md}\n", "data.policy"),
            ("data: {benign_sources: [\"file:/nonexistent/seeds.csv\"]}\n", "/nonexistent/seeds.csv"),
            ("eval: {suite: /nonexistent/suite.yaml}\n", "eval.suite"),
            ("name: ../../evil\n", "name '../../evil'"),
            ("rw: {max_steps: -4}\n", "max_steps"),
            ("rw: {lora_alpha: big}\n", "lora_alpha"),
            ("rw: {lr: .nan}\n", "lr"),
            ("rw: [unclosed\n", "recipe.yaml"),
            ("init: {heads: 0}\n", "num_attention_heads"),
        ]
        for (i, (text, mention)) in cases.enumerated() {
            let recipe = cwd.appendingPathComponent("recipe.yaml")
            try Data(text.utf8).write(to: recipe)
            let r = try Self.installed(["run", recipe.path, "--dry-run"], binary: CLITests.binary, cwd: cwd)
            #expect(r.status != 0 && r.err.contains(mention), "case \(i) \(text): exit \(r.status) \(r.err.suffix(300))")
        }
        // A model that is not on this machine is a warning for the plan (a GPU recipe's plan
        // prints anywhere) and an error for the run.
        let recipe = cwd.appendingPathComponent("recipe.yaml")
        try Data("model: /nonexistent/model\n".utf8).write(to: recipe)
        let plan = try Self.installed(["run", recipe.path, "--dry-run"], binary: CLITests.binary, cwd: cwd)
        #expect(plan.status == 0 && plan.err.contains("warning:") && plan.err.contains("/nonexistent/model"), "\(plan.err.suffix(300))")
        let run = try Self.installed(["run", recipe.path], binary: CLITests.binary, cwd: cwd)
        #expect(run.status != 0 && run.err.contains("recipe.yaml") && run.err.contains("/nonexistent/model"), "\(run.err.suffix(300))")
    }
}
