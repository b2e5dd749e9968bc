import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Hummingbird
import ScriptedOpenAIServer
import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import Models
@testable import Serving
@testable import Tensor
@testable import Tokenizers

/// The real server on a free loopback port, driven by a real HTTP client.
@Suite(.serialized, .tags(.process)) struct ServerTests {
    /// A tiny random Llama with the byte-level test tokenizer: fast enough for load tests.
    static func tinyModel() throws -> (LlamaModel, Tokenizer) {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("ModelsTests/Golden/tokenizers/gpt2/tokenizer.json")
        let tokenizer = try Tokenizer(tokenizerJSON: url)
        let config = LlamaConfig(vocabSize: tokenizer.vocabularySize, hiddenSize: 32, intermediateSize: 64, numHiddenLayers: 2,
                                 numAttentionHeads: 4, numKeyValueHeads: 2, maxPositionEmbeddings: 256, tieWordEmbeddings: true)
        return (try LlamaModel(config: config, weights: LlamaModel.initialWeights(config: config, seed: 9, std: 0.2)), tokenizer)
    }

    static func tinyServer(adapterLoader: (@Sendable (String) throws -> LlamaModel)? = nil, _ configure: (inout OpenAIServer.Options) -> Void = { _ in }) throws -> OpenAIServer {
        let (model, tokenizer) = try tinyModel()
        var options = OpenAIServer.Options()
        options.port = 0
        options.modelID = "tiny"
        options.defaultMaxTokens = 16
        configure(&options)
        return OpenAIServer(model: model, tokenizer: tokenizer, template: ChatTemplate(format: .chatml), options: options, adapterLoader: adapterLoader)
    }

    /// Runs `body` against the server listening on a free port, then stops it.
    static func withRunningServer(_ server: OpenAIServer, _ body: (URL) async throws -> Void) async throws {
        let ports = AsyncStream<Int>.makeStream()
        let app = server.application { ports.continuation.yield($0) }
        try await GracefulServing.run(app, ports: ports.stream) { port in try await body(URL(string: "http://127.0.0.1:\(port)")!) }
    }

    struct Reply { let status: Int; let body: Data; var text: String { String(decoding: body, as: UTF8.self) } }

    static func send(_ base: URL, _ path: String, method: String = "POST", json: String? = nil, key: String? = nil) async throws -> Reply {
        var request = URLRequest(url: base.appendingPathComponent(path))
        request.httpMethod = method
        // Generous: the suites run in parallel on 2 cores, and a loaded machine is slow.
        request.timeoutInterval = 900
        if let json { request.httpBody = Data(json.utf8); request.setValue("application/json", forHTTPHeaderField: "Content-Type") }
        if let key { request.setValue("Bearer \(key)", forHTTPHeaderField: "Authorization") }
        let (data, response) = try await URLSession.shared.data(for: request)
        return Reply(status: (response as! HTTPURLResponse).statusCode, body: data)
    }

    static func object(_ r: Reply) throws -> [String: Any] { try JSONSerialization.jsonObject(with: r.body) as! [String: Any] }

    @Test func chatCompletionStreamingAndPlain() async throws {
        try await Self.withRunningServer(try Self.tinyServer()) { base in
            #expect(try await Self.send(base, "health", method: "GET").text == "ok")
            let models = try Self.object(try await Self.send(base, "v1/models", method: "GET"))
            #expect(((models["data"] as! [[String: Any]])[0]["id"] as! String) == "tiny")
            let ask = #"{"model": "tiny", "messages": [{"role": "user", "content": "Hello there"}], "max_tokens": 8, "temperature": 0}"#
            let plain = try await Self.send(base, "v1/chat/completions", json: ask)
            #expect(plain.status == 200, "\(plain.text)")
            let obj = try Self.object(plain)
            let choice = (obj["choices"] as! [[String: Any]])[0]
            let text = (choice["message"] as! [String: Any])["content"] as! String
            let usage = obj["usage"] as! [String: Int]
            #expect(obj["object"] as? String == "chat.completion" && choice["finish_reason"] != nil)
            #expect(usage["total_tokens"] == usage["prompt_tokens"]! + usage["completion_tokens"]! && usage["completion_tokens"]! <= 8)
            // Streaming: chunks in OpenAI's format that add up to the same greedy text.
            let streamed = try await Self.send(base, "v1/chat/completions", json: String(ask.dropLast()) + #", "stream": true}"#)
            #expect(streamed.status == 200)
            let events = streamed.text.components(separatedBy: "\n\n").filter { !$0.isEmpty }
            #expect(events.last == "data: [DONE]")
            var joined = "", finish: String? = nil
            for e in events.dropLast() {
                #expect(e.hasPrefix("data: "))
                let chunk = try JSONSerialization.jsonObject(with: Data(e.dropFirst(6).utf8)) as! [String: Any]
                #expect(chunk["object"] as? String == "chat.completion.chunk")
                let c = (chunk["choices"] as! [[String: Any]])[0]
                joined += ((c["delta"] as? [String: Any])?["content"] as? String) ?? ""
                if let f = c["finish_reason"] as? String { finish = f }
            }
            #expect(joined == text && finish == choice["finish_reason"] as? String)
            // Raw completions, with n choices.
            let comp = try Self.object(try await Self.send(base, "v1/completions", json: #"{"prompt": "Once upon", "max_tokens": 4, "n": 2, "temperature": 1, "seed": 3}"#))
            #expect((comp["choices"] as! [Any]).count == 2)
        }
    }

    @Test func errorsAreOpenAIShapedWithTheRightStatus() async throws {
        try await Self.withRunningServer(try Self.tinyServer { $0.apiKey = "sk-test"; $0.maxBodyBytes = 4096 }) { base in
            func expectError(_ r: Reply, _ status: Int, _ sourceLocation: SourceLocation = #_sourceLocation) throws {
                #expect(r.status == status, "\(r.text)", sourceLocation: sourceLocation)
                let e = try Self.object(r)["error"] as? [String: Any]
                #expect(e?["message"] is String && e?["type"] is String, sourceLocation: sourceLocation)
            }
            let ok = #"{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}"#
            try expectError(try await Self.send(base, "v1/chat/completions", json: ok), 401)
            try expectError(try await Self.send(base, "v1/chat/completions", json: ok, key: "wrong"), 401)
            #expect(try await Self.send(base, "v1/chat/completions", json: ok, key: "sk-test").status == 200)
            try expectError(try await Self.send(base, "v1/chat/completions", json: "{not json", key: "sk-test"), 400)
            try expectError(try await Self.send(base, "v1/chat/completions", json: #"{"max_tokens": 2}"#, key: "sk-test"), 400)
            try expectError(try await Self.send(base, "v1/chat/completions", json: #"{"messages": [], "max_tokens": 2}"#, key: "sk-test"), 400)
            try expectError(try await Self.send(base, "v1/chat/completions", json: #"{"model": "gpt-9", "messages": [{"role": "user", "content": "hi"}]}"#, key: "sk-test"), 404)
            try expectError(try await Self.send(base, "v1/nowhere", json: ok, key: "sk-test"), 404)
            try expectError(try await Self.send(base, "v1/chat/completions", json: #"{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 100000}"#, key: "sk-test"), 400)
            try expectError(try await Self.send(base, "v1/chat/completions", json: #"{"messages": [{"role": "user", "content": "hi"}], "temperature": 7}"#, key: "sk-test"), 400)
            let big = #"{"messages": [{"role": "user", "content": ""# + String(repeating: "x", count: 8000) + #""}]}"#
            try expectError(try await Self.send(base, "v1/chat/completions", json: big, key: "sk-test"), 413)
            #expect(try await Self.send(base, "health", method: "GET").status == 200)
        }
    }

    @Test func fullQueueAnswers429() async throws {
        let server = try Self.tinyServer { $0.maxQueue = 1; $0.maxBatch = 1 }
        try await Self.withRunningServer(server) { base in
            let body = #"{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 200, "temperature": 1}"#
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<8 { group.addTask { try await Self.send(base, "v1/chat/completions", json: body).status } }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(statuses.contains(429) && statuses.contains(200))
            #expect(statuses.allSatisfy { $0 == 200 || $0 == 429 })
        }
    }

    /// 64 concurrent clients: every request succeeds, they are batched, and memory stays flat
    /// from one wave to the next.
    @Test func boundedLoadTest() async throws {
        let server = try Self.tinyServer { $0.maxBatch = 16; $0.maxQueue = 128 }
        try await Self.withRunningServer(server) { base in
            func wave() async throws -> [Int] {
                try await withThrowingTaskGroup(of: Int.self) { group in
                    for i in 0..<64 {
                        group.addTask {
                            let body = #"{"messages": [{"role": "user", "content": "request \#(i)"}], "max_tokens": 12, "stream": \#(i % 2 == 0)}"#
                            return try await Self.send(base, "v1/chat/completions", json: body).status
                        }
                    }
                    return try await group.reduce(into: [Int]()) { $0.append($1) }
                }
            }
            let first = try await wave()
            #expect(first.allSatisfy { $0 == 200 })
            let rss1 = Self.residentBytes()
            let second = try await wave()
            #expect(second.allSatisfy { $0 == 200 })
            let rss2 = Self.residentBytes()
            #expect(server.scheduler.batchSizes.max()! > 1, "requests were batched: \(server.scheduler.batchSizes)")
            #expect(Double(rss2) < Double(rss1) * 1.25 + 50e6, "resident memory \(rss1) -> \(rss2)")
        }
    }

    /// A short request sent while a long one decodes joins its batch and is answered as soon
    /// as it ends, not when the long one does.
    @Test func aRequestJoinsTheRunningBatchAndFinishesFirst() async throws {
        let server = try Self.tinyServer { $0.maxBatch = 4 }
        try await Self.withRunningServer(server) { base in
            let long = Task { () -> Date in
                _ = try await Self.send(base, "v1/chat/completions", json: #"{"messages": [{"role": "user", "content": "go on"}], "max_tokens": 230}"#)
                return Date()
            }
            // Sent once the long one runs.
            while server.scheduler.batchSizes.isEmpty { try await Task.sleep(nanoseconds: 2_000_000) }
            let short = try await Self.send(base, "v1/chat/completions", json: #"{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}"#)
            let shortDone = Date()
            #expect(short.status == 200)
            let longDone = try await long.value
            #expect(shortDone < longDone, "the short request waited for the long one")
            #expect(server.scheduler.batchSizes.contains(2), "the short request joined the running batch: \(server.scheduler.batchSizes)")
        }
    }

    /// A client that asks for a long stream and hangs up after the first bytes: its row is
    /// cancelled, the engine frees up, and the server keeps answering.
    @Test func disconnectMidStreamFreesTheSlot() async throws {
        let server = try Self.tinyServer { $0.maxBatch = 1 }
        try await Self.withRunningServer(server) { base in
            let (fd, connected) = Self.connectLoopback(base)
            #expect(connected)
            let body = #"{"messages": [{"role": "user", "content": "go"}], "max_tokens": 230, "stream": true}"#
            let request = "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
            _ = request.withCString { Glibc.send(fd, $0, strlen($0), 0) }
            var buffer = [UInt8](repeating: 0, count: 512)
            let got = recv(fd, &buffer, buffer.count, 0)
            #expect(got > 0)
            close(fd)
            // The next request is served (the hung-up row no longer holds the only batch slot).
            let start = Date()
            let r = try await Self.send(base, "v1/chat/completions", json: #"{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}"#)
            #expect(r.status == 200)
            #expect(Date().timeIntervalSince(start) < 60)
            #expect(server.scheduler.queued == 0)
            #expect(server.scheduler.cancelledRows == 1, "the hung-up stream's row was cancelled")
        }
    }

    /// A TCP socket connected to the server's loopback port, and whether the connect succeeded.
    static func connectLoopback(_ base: URL) -> (fd: Int32, connected: Bool) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(base.port!).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let status = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        return (fd, status == 0)
    }

    /// A raw loopback connection: the request as bytes, then what the server answered (or ""
    /// when it closed without an answer).
    static func rawExchange(_ base: URL, _ bytes: String, shutdownWrite: Bool, waitSeconds: Int = 30) -> String {
        let (fd, _) = connectLoopback(base)
        defer { close(fd) }
        var timeout = timeval(tv_sec: waitSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        _ = bytes.withCString { Glibc.send(fd, $0, strlen($0), 0) }
        if shutdownWrite { shutdown(fd, Int32(SHUT_WR)) }
        var out = [UInt8](), buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            out += buffer[0..<n]
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The server's answers to requests users and load balancers really send: a lower-case
    /// scheme, numbers out of range, vLLM's top_k, a body cut short, a client that stalls.
    @Test func requestEdgeCases() async throws {
        let server = try Self.tinyServer { $0.apiKey = "sk-test"; $0.readTimeoutSeconds = 1 }
        try await Self.withRunningServer(server) { base in
            var lower = URLRequest(url: base.appendingPathComponent("v1/models"))
            lower.setValue("bearer sk-test", forHTTPHeaderField: "Authorization")
            let (_, response) = try await URLSession.shared.data(for: lower)
            #expect((response as! HTTPURLResponse).statusCode == 200, "the auth scheme is case-insensitive")

            let huge = try await Self.send(base, "v1/chat/completions", json: #"{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 1e20}"#, key: "sk-test")
            #expect(huge.status == 400 && huge.text.contains("max_tokens"), "\(huge.text)")
            let topK = try await Self.send(base, "v1/chat/completions", json: #"{"messages": [{"role": "user", "content": "hi"}], "top_k": -3}"#, key: "sk-test")
            #expect(topK.status == 400 && topK.text.contains("top_k"), "\(topK.text)")
            let topKOK = try await Self.send(base, "v1/completions", json: #"{"prompt": "hi", "max_tokens": 2, "top_k": 5}"#, key: "sk-test")
            #expect(topKOK.status == 200, "\(topKOK.text)")

            // A body shorter than its Content-Length, then the client stops sending: not "too large".
            let cut = Self.rawExchange(base, "POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk-test\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n{\"prompt\": \"hi\"", shutdownWrite: true)
            #expect(!cut.contains(" 413 "), "\(cut.prefix(200))")

            // A request whose headers never finish is closed after the read timeout.
            let start = Date()
            let stalled = Self.rawExchange(base, "POST /v1/completions HTTP/1.1\r\nHost: x\r\n", shutdownWrite: false, waitSeconds: 20)
            let waited = Date().timeIntervalSince(start)
            #expect(stalled.isEmpty || stalled.contains(" 408 ") || stalled.contains(" 400 "), "\(stalled.prefix(200))")
            #expect(waited < 15, "the stalled connection stayed open \(waited) s")
        }
    }

    static func residentBytes() -> Int {
        guard let s = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8), let pages = Int(s.split(separator: " ")[1]) else { return 0 }
        return pages * 4096
    }
}
