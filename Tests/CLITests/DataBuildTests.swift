import Foundation
import Jobs
import ScriptedOpenAIServer
import Testing

/// `saro data ...` as a user runs it: against a real HTTP teacher, killed and resumed, and the
/// offline pipeline on a tiny model from RIT-D to stats and export.
@Suite(.serialized, .tags(.process)) struct DataBuildTests {
    static func work(_ name: String) -> URL { TrainResumeTests.work("data-\(name)") }

    /// A deterministic scripted teacher: a well-formed refusal or answer chosen by the prompt,
    /// and for a few prompts garbage (which the judge rejects and the report counts).
    static func teacher(delay: Double) -> ScriptedOpenAIServer {
        ScriptedOpenAIServer { _, body in
            let prompt = ScriptedOpenAIServer.userText(body)
            let h = prompt.unicodeScalars.reduce(0) { ($0 &* 31 &+ Int($1.value)) & 0xFFFF }
            if h % 7 == 0 { return .chat("no tags here", delay: delay) }
            return .chat("<think>\nRestating: \(prompt.prefix(40))\n\nWait, let me check the policy.\n</think>\n\nI can't help with that; here is a safer alternative.", delay: delay)
        }
    }

    static func fileText(_ url: URL) -> String? { try? String(contentsOf: url, encoding: .utf8) }

    @Test func sigkillDuringRitdThenRerunGivesTheUninterruptedRecords() async throws {
        let server = Self.teacher(delay: 0.05)
        try await server.run { url in
            let root = Self.work("kill")
            let common = ["data", "build", "ritd", "--teacher", url.absoluteString, "--teacher-model", "t", "--concurrency", "2",
                          "--harmful", "8", "--jailbreak", "8", "--benign", "8", "--quiet"]
            let straight = root.appendingPathComponent("straight")
            let a = try await CLITests.saroOnOwnThread(common + ["--out", straight.path])
            #expect(a.status == 0, "\(a.err)")
            // Distinct prompts, not requests: a loaded machine can make the client retry.
            func prompts(_ from: Int) -> Set<String> { Set(server.requests.dropFirst(from).map(ScriptedOpenAIServer.userText)) }
            let total = server.requestCount
            #expect(prompts(0).count == 24)
            #expect(a.out.contains("ritd: wrote") && a.out.contains("rejected:"), "\(a.out)")
            let expected = try #require(Self.fileText(straight.appendingPathComponent("ritd.jsonl")))

            let killed = root.appendingPathComponent("killed")
            let p = try CLITests.Background([CLITests.binary.path] + common + ["--out", killed.path])
            let deadline = Date().addingTimeInterval(120)
            while Date() < deadline && server.requestCount < total + 8 { try await Task.sleep(nanoseconds: 5_000_000) }
            // SIGKILL ends it at once: reaping it does not hold this thread.
            #expect(p.wait(signal: SIGKILL).signalled)
            #expect(!FileManager.default.fileExists(atPath: killed.appendingPathComponent("ritd.jsonl").path))
            let finished = try JobStore(path: killed.appendingPathComponent("jobs.sqlite").path).count("teacher")
            #expect(finished >= 4 && finished < 24, "\(finished) calls finished before the kill")

            let beforeRerun = server.requestCount
            let b = try await CLITests.saroOnOwnThread(common + ["--out", killed.path])
            #expect(b.status == 0, "\(b.err)")
            // Exactly the calls that had not finished are made again: none of the finished ones.
            #expect(prompts(beforeRerun).count == 24 - finished, "rerun asked for \(prompts(beforeRerun).count) prompts, \(finished) were done")
            #expect(Self.fileText(killed.appendingPathComponent("ritd.jsonl")) == expected)
        }
    }

    /// The teacher and the judge endpoints each send the key of their own variable
    /// (--api-key-env, --judge-key-env): the judge was given the teacher's.
    @Test func judgeEndpointUsesTheJudgeKeyVariable() async throws {
        let teacher = Self.teacher(delay: 0)
        let judge = ScriptedOpenAIServer { _, _ in .chat("safe") }
        try await teacher.run { teacherURL in
            try await judge.run { judgeURL in
                var env = ProcessInfo.processInfo.environment
                env["SARO_TEST_TEACHER_KEY"] = "teacher-secret"
                env["SARO_TEST_JUDGE_KEY"] = "judge-secret"
                let r = try await CLITests.saroOnOwnThread([
                    "data", "build", "ritd", "--teacher", teacherURL.absoluteString, "--teacher-model", "t", "--api-key-env", "SARO_TEST_TEACHER_KEY",
                    "--judge", "llama-guard", "--judge-url", judgeURL.absoluteString, "--judge-model", "g", "--judge-key-env", "SARO_TEST_JUDGE_KEY",
                    "--harmful", "2", "--jailbreak", "0", "--benign", "2", "--out", Self.work("judge-key").path, "--quiet"], environment: env)
                #expect(r.status == 0, "\(r.err)")
                #expect(!judge.authorizations.isEmpty, "the judge endpoint was asked")
                #expect(judge.authorizations.allSatisfy { $0 == "Bearer judge-secret" }, "\(judge.authorizations)")
                #expect(!teacher.authorizations.isEmpty && teacher.authorizations.allSatisfy { $0 == "Bearer teacher-secret" })
            }
        }
    }

    @Test func offlinePipelineOnATinyModelFromRitdToExport() throws {
        let root = Self.work("offline")
        let model = root.appendingPathComponent("model").path
        let tokenizer = TrainResumeTests.repo.appendingPathComponent("Tests/ModelsTests/Golden/tokenizers/gpt2").path
        let initRun = try CLITests.saro(["model", "init", "--tokenizer-from", tokenizer, "--hidden-size", "32", "--intermediate-size", "64",
                                         "--layers", "2", "--heads", "4", "--kv-heads", "2", "--std", "0.1", "--seed", "3", "--out", model])
        #expect(initRun.status == 0, "\(initRun.err)")
        let data = root.appendingPathComponent("data").path
        let sizes = ["--harmful", "4", "--jailbreak", "4", "--benign", "4", "--answer-model", model, "--out", data, "--quiet"]
        let ritd = try CLITests.saro(["data", "build", "ritd", "--model", model] + sizes)
        #expect(ritd.status == 0, "\(ritd.err)")
        let sampling = ["--samples", "2", "--max-tokens", "16", "--model", model]
        let opcot = try CLITests.saro(["data", "build", "opcot"] + sampling + sizes)
        #expect(opcot.status == 0 && opcot.out.contains("opcot: wrote"), "\(opcot.err)")
        let ppcot = try CLITests.saro(["data", "build", "ppcot"] + sampling + sizes)
        #expect(ppcot.status == 0 && ppcot.out.contains("ppcot: wrote"), "\(ppcot.err)")
        let srs = try CLITests.saro(["data", "build", "srs"] + sampling + sizes)
        #expect(srs.status == 0, "\(srs.err)")

        let stats = try CLITests.saro(["data", "stats", data, "--model", model])
        #expect(stats.status == 0, "\(stats.err)")
        for needle in ["ritd.jsonl:", "opcot.jsonl:", "ppcot.jsonl:", "queries.jsonl:", "jailbreak_eval.jsonl:", "benign", "harmful", "jailbreak",
                       "held_out", "train", "reflection", "tokens reasoning"] {
            #expect(stats.out.contains(needle), "stats lacks \(needle):\n\(stats.out)")
        }
        let json = try CLITests.saro(["data", "stats", data + "/ritd.jsonl", "--model", model, "--json"])
        let obj = try JSONSerialization.jsonObject(with: Data(json.out.utf8)) as! [String: Any]
        let file = (obj["files"] as! [[String: Any]])[0]
        // The tiny model's benign answers may all be rejected; harmful and jailbreak records are teacher-written.
        let kinds = try #require(file["byKind"] as? [String: Int])
        #expect(file["type"] as? String == "sft" && kinds["harmful"] == 4 && kinds["jailbreak"] == 4, "\(kinds)")

        let out = root.appendingPathComponent("lf").path
        let export = try CLITests.saro(["data", "export", data + "/ritd.jsonl", data + "/ppcot.jsonl", "--format", "llamafactory", "--out", out])
        #expect(export.status == 0, "\(export.err)")
        let info = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/dataset_info.json"))) as! [String: [String: Any]]
        #expect(info["ritd"]?["formatting"] as? String == "sharegpt" && info["ritd"]?["ranking"] == nil)
        #expect(info["ppcot"]?["ranking"] as? Bool == true)
        let firstPair = try String(contentsOfFile: out + "/ppcot.jsonl", encoding: .utf8).split(separator: "\n")[0]
        let pair = try JSONSerialization.jsonObject(with: Data(firstPair.utf8)) as! [String: Any]
        // No partial assistant turn in LLaMA-Factory's format: the prefix moved into both completions.
        #expect((pair["messages"] as! [[String: String]]).last?["role"] == "user")
        #expect(((pair["chosen"] as! [String: String])["content"] ?? "").hasPrefix("<think>\n"))
    }

    @Test func helpExplainsTheBuilders() throws {
        let r = try CLITests.saro(["data", "build", "--help"])
        #expect(r.status == 0)
        for s in ["ritd", "opcot", "ppcot", "srs", "jobs.sqlite"] { #expect(r.out.contains(s), "\(s)") }
        let bad = try CLITests.saro(["data", "build", "ritd", "--config", "/nonexistent.yaml", "--quiet"])
        #expect(bad.status != 0 && bad.err.contains("/nonexistent.yaml"), "\(bad.err)")
    }
}
