import Foundation
import Support
import Testing

/// The `saro` command line's real output: the binary built beside the tests, run as a user would.
@Suite(.tags(.process)) struct CLITests {
    struct Run {
        let status: Int32; let out: String; let err: String
        /// Ended by a signal (a Swift trap, an abort), `status` then being the signal's number.
        var signalled = false
    }

    static let binary: URL = {
        let testBundle = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL
        var dir = testBundle.deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("saro").path) && dir.path != "/" {
            dir = dir.deletingLastPathComponent()
        }
        return dir.appendingPathComponent("saro")
    }()

    /// Runs the binary (or another copy of it); `environment` replaces the inherited one and
    /// `cwd` the working folder when given.
    static func saro(_ args: [String], environment: [String: String]? = nil, binary: URL? = nil, cwd: URL? = nil) throws -> Run {
        let r = try Subprocess.run([(binary ?? Self.binary).path] + args, environment: environment, workingDirectory: cwd?.path)
        return Run(status: r.status, out: String(decoding: r.stdout, as: UTF8.self), err: String(decoding: r.stderr, as: UTF8.self),
                   signalled: r.termination.signalled)
    }

    /// A program the test started and will kill or wait for: reaped with waitpid, and its
    /// end kept, so `isRunning` can be asked again after it ended.
    final class Background: @unchecked Sendable {
        let program: SpawnedProgram
        private var ended: Termination?
        private let lock = NSLock()

        init(_ arguments: [String], cwd: URL? = nil, output: SpawnStream = .null, error: SpawnStream = .null) throws {
            program = try SpawnedProgram.start(arguments, workingDirectory: cwd?.path, output: output, error: error)
        }

        var pid: pid_t { program.pid }
        var isRunning: Bool {
            lock.lock(); defer { lock.unlock() }
            if ended == nil { ended = program.poll() }
            return ended == nil
        }

        /// Waits for the program to end (sending `signal` first when given) and says how it did.
        @discardableResult func wait(signal: Int32? = nil) -> Termination {
            lock.lock(); defer { lock.unlock() }
            if let ended { return ended }
            if let signal { program.signal(signal) }
            let t = program.wait()
            ended = t
            return t
        }
    }

    /// `saro args` started in the repository, its output discarded: for tests that kill it.
    static func startInBackground(_ args: [String], error: SpawnStream = .null) throws -> Background {
        try Background([binary.path] + args, cwd: TrainResumeTests.repo, error: error)
    }

    /// Kills a started program with SIGKILL and reaps it.
    static func killAndReap(_ p: Background) { p.wait(signal: SIGKILL) }

    /// `saro` on a thread of its own, for async tests whose HTTP server runs in this process:
    /// waiting for the subprocess on one of the few cooperative threads (two on two cores),
    /// while other tests block the rest, leaves the server no thread to answer it with.
    static func saroOnOwnThread(_ args: [String], environment: [String: String]? = nil) async throws -> Run {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try saro(args, environment: environment) }) }.start()
        }
    }

    static func temp(_ name: String, _ contents: String) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("saro-cli-\(getpid())-\(name)")
        try Data(contents.utf8).write(to: url)
        return url.path
    }

    @Test func helpListsTheCommands() throws {
        let r = try Self.saro(["--help"])
        #expect(r.status == 0)
        for c in ["generate", "score", "tokenize", "model", "bench", "system"] { #expect(r.out.contains(c), "help mentions \(c)") }
        let gen = try Self.saro(["generate", "--help"])
        #expect(gen.out.contains("--max-tokens") && gen.out.contains("--temperature") && gen.out.contains("--file"))
    }

    /// A usage mistake that a command finds while running names that command's usage, not the
    /// root's "saro <subcommand>".
    @Test func aMistakeFoundWhileRunningShowsThatCommandsUsage() throws {
        let r = try Self.saro(["judge", "data", "harm", "--part", "nope", "--out", "/dev/null"])
        #expect(r.status == 64, "\(r.err)")
        #expect(r.err.hasPrefix("Error: --part is develop, held-out,") && r.err.contains("not 'nope'"), "\(r.err)")
        #expect(r.err.contains("Usage: saro judge data <task>") && r.err.contains("See 'saro judge data --help'") && !r.err.contains("saro <subcommand>"), "\(r.err)")
        let written = try Self.saro(["judge", "data", "harm", "--part", "held-out-written", "--out", "/dev/null"])
        #expect(written.status == 64 && written.err.hasPrefix("Error: held-out-written is a refusal part"), "\(written.err)")
    }

    @Test func tokenizeAndScorePrintJSON() throws {
        let t = try Self.saro(["tokenize", "--json", "Hello world! 12345 don't"])
        #expect(t.status == 0, "\(t.err)")
        struct Tok: Decodable { let ids: [Int]; let tokens: [String] }
        let tok = try JSONDecoder().decode(Tok.self, from: Data(t.out.utf8))
        #expect(tok.ids == [19556, 905, 17, 216, 33, 34, 35, 36, 37, 1326, 982])   // transformers' ids for this string
        let s = try Self.saro(["score", "--json", "The capital of France is Paris."])
        #expect(s.status == 0, "\(s.err)")
        struct Score: Decodable { let ids: [Int]; let logprobs: [Double?]; let total_logprob: Double }
        let score = try JSONDecoder().decode(Score.self, from: Data(s.out.utf8))
        #expect(score.logprobs.first! == nil && score.logprobs.count == score.ids.count)
        #expect(score.total_logprob < 0 && score.logprobs.dropFirst().allSatisfy { ($0 ?? 1) <= 0 })
    }

    @Test func generateAnswersAndBatchesAFile() throws {
        let r = try Self.saro(["generate", "--greedy", "--max-tokens", "12", "What is the capital of France?"])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("Paris"))
        let input = try Self.temp("prompts.jsonl", """
            {"prompt": "What is 2 + 3?"}
            {"messages": [{"role": "user", "content": "Name a color."}]}

            """)
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("saro-cli-\(getpid())-out.jsonl").path
        let f = try Self.saro(["generate", "--greedy", "--max-tokens", "8", "--file", input, "--output", output])
        #expect(f.status == 0, "\(f.err)")
        let lines = try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2)
        for line in lines {
            let obj = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            #expect(obj["response"] is String && obj["completion_tokens"] as? Int ?? 0 > 0 && obj["finish_reason"] != nil)
        }
    }

    @Test func malformedInputNamesFileAndLine() throws {
        let input = try Self.temp("bad.jsonl", "{\"prompt\": \"ok\"}\n{not json}\n")
        let r = try Self.saro(["generate", "--file", input])
        #expect(r.status != 0)
        #expect(r.err.contains("\(input):2"))
        let missing = try Self.saro(["generate", "--model", "/nonexistent/model.gguf", "hi"])
        #expect(missing.status != 0 && missing.err.contains("/nonexistent/model.gguf"))
        let both = try Self.saro(["generate"])
        #expect(both.status != 0 && both.err.contains("PROMPT"))
    }
}

extension Tag {
    /// Tests that start processes (saro itself, servers, recipes): the slow part of the suite.
    /// `scripts/test.sh --fast` leaves them out.
    @Tag static var process: Self
}
