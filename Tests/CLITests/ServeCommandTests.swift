import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing

/// `saro serve` as a process: the key read from a file, the warning for an address beyond
/// 127.0.0.1 without a key, and the port it really bound printed (port 0 picks one).
@Suite(.serialized, .tags(.process)) struct ServeCommandTests {
    /// Starts `saro serve`, waits for its "serving ... on http://HOST:PORT" line, runs body with
    /// the base URL and what it printed before, then stops it with SIGTERM.
    static func withServer(_ args: [String], _ body: (URL, String) async throws -> Void) async throws {
        let model = try EvalReportTests.tinyModel(CorruptInputTests.root, "serve-model", seed: 4)
        let log = CorruptInputTests.root.appendingPathComponent("serve-\(UUID().uuidString).log")
        let p = try CLITests.Background([CLITests.binary.path, "serve", "--model", model, "--port", "0", "--served-model-name", "tiny"] + args,
                                        error: .appending(log.path))
        defer { p.wait(signal: SIGTERM) }
        var text = ""
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline, p.isRunning, !text.contains("serving '") {
            try await Task.sleep(nanoseconds: 50_000_000)
            text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        }
        let line = try #require(text.split(separator: "\n").first { $0.contains("serving '") }, "\(text)")
        let address = try #require(line.split(separator: " ").last.map(String.init))
        let url = try #require(URL(string: address))
        #expect(url.port != 0, "printed the bound port, not 0: \(line)")
        try await body(url, text)
    }

    static func status(_ url: URL, key: String?) async throws -> Int {
        var request = URLRequest(url: url.appendingPathComponent("v1/models"))
        request.timeoutInterval = 60
        if let key { request.setValue("Bearer \(key)", forHTTPHeaderField: "Authorization") }
        let (_, response) = try await URLSession.shared.data(for: request)
        return (response as! HTTPURLResponse).statusCode
    }

    @Test func keyFromAFile() async throws {
        let file = CorruptInputTests.root.appendingPathComponent("api-key.txt")
        try Data("sk-from-file\n".utf8).write(to: file)
        try await Self.withServer(["--api-key-file", file.path]) { url, printed in
            #expect(!printed.contains("without an API key"), "\(printed)")
            let without = try await Self.status(url, key: nil), with = try await Self.status(url, key: "sk-from-file")
            #expect(without == 401)
            #expect(with == 200)
        }
    }

    /// 127.0.0.2 is loopback, but not the default address: saro cannot tell who reaches it.
    @Test func warnsWithoutAKeyBeyondTheDefaultAddress() async throws {
        try await Self.withServer(["--host", "127.0.0.2"]) { _, printed in
            #expect(printed.contains("warning: serving on 127.0.0.2 without an API key"), "\(printed)")
        }
    }

    /// `saro eval --server` against `saro serve` of the same weights: one row at a time on both
    /// sides, so the greedy answers are the embedded engine's, and reference NLL through the
    /// echoed prompt's log-probs is the embedded engine's.
    @Test func evalThroughTheServerAnswersAsTheEmbeddedEngine() async throws {
        try await Self.withServer(["--max-batch", "1"]) { url, _ in
            let model = CorruptInputTests.root.appendingPathComponent("serve-model").path
            let suite = try CLITests.temp("server-suite.yaml", "name: s\nmax_tokens: 12\nbenchmarks:\n  - {name: harmbench, limit: 3}\n  - {name: nll-gsm8k, limit: 2}\n")
            let remoteOut = CorruptInputTests.root.appendingPathComponent("eval-remote").path, localOut = CorruptInputTests.root.appendingPathComponent("eval-local").path
            let remote = try await CLITests.saroOnOwnThread(["eval", "--model", model, "--server", url.appendingPathComponent("v1").absoluteString, "--served-model", "tiny",
                                                             "--server-concurrency", "1", "--suite", suite, "--out", remoteOut, "--quiet"])
            let local = try await CLITests.saroOnOwnThread(["eval", "--model", model, "--batch-size", "1", "--suite", suite, "--out", localOut, "--quiet"])
            #expect(remote.status == 0 && local.status == 0, "\(remote.err)\(local.err)")
            func read(_ dir: String) throws -> ([String], [String: [String: Double]]) {
                let lines = try String(contentsOfFile: dir + "/examples.jsonl", encoding: .utf8).split(separator: "\n")
                let responses = try lines.map { (try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any])["response"] as? String ?? "-" }
                let results = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/results.json"))) as! [String: Any]
                return (responses, results["benchmarks"] as! [String: [String: Double]])
            }
            let (r, rb) = try read(remoteOut), (l, lb) = try read(localOut)
            #expect(r == l && r.count == 5, "\(r) vs \(l)")
            #expect(rb["harmbench"] == lb["harmbench"])
            let served = try #require(rb["nll-gsm8k"]?["mean_nll"]), own = try #require(lb["nll-gsm8k"]?["mean_nll"])
            #expect(abs(served - own) <= 1e-9 * max(1, own), "\(rb) \(lb)")
        }
        let bad = try CLITests.saro(["eval", "--served-model", "x", "--out", CorruptInputTests.root.appendingPathComponent("eval-bad").path])
        #expect(bad.status != 0 && bad.err.contains("--served-model needs --server"), "\(bad.err)")
    }
}
