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
        let p = Process()
        p.executableURL = CLITests.binary
        p.arguments = ["serve", "--model", model, "--port", "0", "--served-model-name", "tiny"] + args
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        defer { if p.isRunning { p.terminate(); p.waitUntilExit() } }
        var text = ""
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline, p.isRunning, !text.contains("serving '") {
            let chunk = err.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
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
            #expect(!printed.contains("warning"))
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
}
