import Foundation
import Support
import Jobs
import Testing

/// `saro eval` and `saro report` end to end on tiny models: every benchmark of the quick suite,
/// a resumed evaluation that generates nothing twice, and the report rendered by headless
/// Chromium.
@Suite(.serialized, .tags(.process)) struct EvalReportTests {
    static func tinyModel(_ root: URL, _ name: String, seed: Int) throws -> String {
        let model = root.appendingPathComponent(name).path
        let tokenizer = TrainResumeTests.repo.appendingPathComponent("Tests/ModelsTests/Golden/tokenizers/gpt2").path
        let r = try CLITests.saro(["model", "init", "--tokenizer-from", tokenizer, "--hidden-size", "32", "--intermediate-size", "64",
                                   "--layers", "3", "--heads", "4", "--kv-heads", "2", "--std", "0.1", "--seed", "\(seed)", "--out", model])
        #expect(r.status == 0, "\(r.err)")
        return model
    }

    static func chromium() -> String? {
        ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    @Test func evalTwoModelsThenReportRendersInChromium() throws {
        let root = TrainResumeTests.work("eval-report")
        let base = try Self.tinyModel(root, "base", seed: 1), other = try Self.tinyModel(root, "other", seed: 2)
        let e1 = root.appendingPathComponent("eval-base").path, e2 = root.appendingPathComponent("eval-other").path
        let a = try CLITests.saro(["eval", "--model", base, "--suite", "quick", "--out", e1, "--label", "Base", "--embeddings", "--embedding-count", "6", "--quiet"])
        #expect(a.status == 0, "\(a.err)")
        #expect(a.out.contains("xstest:") && a.out.contains("embedding (layer 2)"), "\(a.out)")
        let results = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: e1 + "/results.json"))) as! [String: Any]
        let benchmarks = try #require(results["benchmarks"] as? [String: [String: Double]])
        #expect(Set(benchmarks.keys) == ["harmbench", "jailbreak", "xstest", "gsm8k", "nll-gsm8k", "nll-humaneval"])
        #expect(benchmarks["jailbreak"]?["asr_held_out"] != nil && benchmarks["jailbreak"]?["asr_train"] != nil)
        #expect((benchmarks["nll-gsm8k"]?["mean_nll"] ?? 0) > 5)   // a random model: near log(vocab)
        #expect((results["cost"] as? [String: Double])?["format_error_rate"] == 1)   // no reasoning blocks from a random model
        let examples = try String(contentsOfFile: e1 + "/examples.jsonl", encoding: .utf8)

        // Rerun: every response comes from eval.sqlite, nothing is generated again.
        let responses = try JobStore(path: e1 + "/eval.sqlite").count("response")
        let again = try CLITests.saro(["eval", "--model", base, "--suite", "quick", "--out", e1, "--label", "Base", "--quiet"])
        #expect(again.status == 0, "\(again.err)")
        #expect(try JobStore(path: e1 + "/eval.sqlite").count("response") == responses)
        #expect(try String(contentsOfFile: e1 + "/examples.jsonl", encoding: .utf8) == examples)

        let b = try CLITests.saro(["eval", "--model", other, "--suite", "quick", "--out", e2, "--label", "SaRO", "--embeddings", "--embedding-count", "6", "--quiet"])
        #expect(b.status == 0, "\(b.err)")

        // Training curves from a short real run.
        let data = root.appendingPathComponent("sft.jsonl")
        try Data((0..<8).map { #"{"messages": [{"role": "user", "content": "Q\#($0)"}, {"role": "assistant", "content": "<think>\nok\n</think>\nA\#($0)"}]}"# }
            .joined(separator: "\n").utf8).write(to: data)
        let train = try CLITests.saro(["train", "sft", "--model", base, "--data", data.path, "--out", root.appendingPathComponent("rw").path,
                                       "--max-steps", "4", "--batch-size", "2", "--logging-steps", "1", "--quiet"])
        #expect(train.status == 0, "\(train.err)")

        let html = root.appendingPathComponent("report/report.html").path
        let r = try CLITests.saro(["report", e2, e1, "--out", html, "--curves", "RW=" + root.appendingPathComponent("rw/metrics.jsonl").path,
                                   "--note", "test run"])
        #expect(r.status == 0, "\(r.err)")
        let page = try String(contentsOfFile: html, encoding: .utf8)
        for id in ["results", "uncertainty", "jailbreak-asr-by-template-family", "xstest-refusal-by-prompt-type", "embedding-space", "training-curves", "reflection-statistics"] {
            #expect(page.contains("<section id=\"\(id)\">"), "missing section \(id)")
        }
        #expect(!page.contains("No data for this section"))
        #expect(!page.contains("<script") && !page.contains("http://") && !page.contains("https://"))
        // Base comes first in the table whatever the order of the folders.
        #expect(page.range(of: "<td>Base</td>")!.lowerBound < page.range(of: "<td>SaRO</td>")!.lowerBound)
        let md = try String(contentsOfFile: root.appendingPathComponent("report/report.md").path, encoding: .utf8)
        #expect(md.contains("| Base |") && md.contains("| SaRO |") && md.contains("HarmBench ASR"))

        guard let chromium = Self.chromium() else { Issue.record("chromium is missing: run scripts/setup.sh"); return }
        let shot = root.appendingPathComponent("report/shot.png").path
        let p = try Subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1280,2400",
                                    "--screenshot=\(shot)", "file://\(html)"])
        let size = (try? FileManager.default.attributesOfItem(atPath: shot)[.size] as? Int) ?? 0
        // A blank page compresses to a few kilobytes; a rendered report with charts does not.
        #expect(p.succeeded && size > 40_000, "screenshot \(size) bytes")
    }
}
