import Foundation
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
}
