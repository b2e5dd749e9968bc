import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// A minimal OpenAI-compatible chat server for tests, answering from a script: each request's
/// JSON body goes to `respond`, which returns the status, the body and a delay. It counts the
/// requests it saw, so tests can check retries and that a resumed job repeats no call.
public final class ScriptedOpenAIServer: @unchecked Sendable {
    public struct Reply: Sendable {
        public var status: Int
        public var body: String
        public var delay: Double
        public var headers: [String: String]
        public init(status: Int = 200, body: String, delay: Double = 0, headers: [String: String] = [:]) {
            self.status = status; self.body = body; self.delay = delay; self.headers = headers
        }

        /// A well-formed chat completion with this content.
        public static func chat(_ content: String, delay: Double = 0) -> Reply {
            let obj: [String: Any] = [
                "id": "chatcmpl-test", "object": "chat.completion", "created": 0, "model": "scripted",
                "choices": [["index": 0, "message": ["role": "assistant", "content": content], "finish_reason": "stop"]],
                "usage": ["prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2],
            ]
            return Reply(body: String(decoding: try! JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys]), as: UTF8.self), delay: delay)
        }
    }

    private let lock = NSLock()
    private var _requests: [[String: Any]] = []
    private var _authorizations: [String?] = []
    private var inFlight = 0
    private var _maxInFlight = 0
    /// The most requests this server was handling at one time.
    public var maxInFlight: Int { lock.lock(); defer { lock.unlock() }; return _maxInFlight }
    public let respond: @Sendable (_ index: Int, _ body: [String: Any]) -> Reply

    public init(respond: @escaping @Sendable (_ index: Int, _ body: [String: Any]) -> Reply) { self.respond = respond }

    public var requestCount: Int { lock.lock(); defer { lock.unlock() }; return _requests.count }
    public var requests: [[String: Any]] { lock.lock(); defer { lock.unlock() }; return _requests }
    /// Each request's Authorization header (nil when it had none), in arrival order.
    public var authorizations: [String?] { lock.lock(); defer { lock.unlock() }; return _authorizations }

    /// The last user message of a request body.
    public static func userText(_ body: [String: Any]) -> String {
        ((body["messages"] as? [[String: Any]]) ?? []).last { ($0["role"] as? String) == "user" }?["content"] as? String ?? ""
    }

    func handle(_ request: Request) async throws -> Response {
        let buffer = try await request.body.collect(upTo: 16 << 20)
        let body = (try? JSONSerialization.jsonObject(with: Data(buffer.readableBytesView))) as? [String: Any] ?? [:]
        let index: Int = lock.withLock {
            _requests.append(body); _authorizations.append(request.headers[.authorization]); inFlight += 1; _maxInFlight = max(_maxInFlight, inFlight)
            return _requests.count - 1
        }
        defer { lock.withLock { inFlight -= 1 } }
        let reply = respond(index, body)
        if reply.delay > 0 { try? await Task.sleep(nanoseconds: UInt64(reply.delay * 1e9)) }
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        for (k, v) in reply.headers { if let name = HTTPField.Name(k) { headers[name] = v } }
        return Response(status: .init(code: reply.status), headers: headers, body: .init(byteBuffer: ByteBuffer(string: reply.body)))
    }

    /// Serves on a free loopback port while `body` runs.
    public func run<T>(_ body: (URL) async throws -> T) async throws -> T {
        let router = Router()
        router.post("v1/chat/completions") { [self] request, _ in try await handle(request) }
        let ports = AsyncStream<Int>.makeStream()
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { ports.continuation.yield($0.localAddress?.port ?? 0) })
        return try await GracefulServing.run(app, ports: ports.stream) { port in try await body(URL(string: "http://127.0.0.1:\(port)/v1")!) }
    }
}
