import Support
import Jobs

extension JobStore {
    /// A judge's verdict on a response to a request, computed once and kept (keyed by the
    /// judge's name, the request kind, the request and the response).
    public func judgment(_ judge: Judge, kind: RequestKind, request: String, response: String) async throws -> Judgment {
        let key = ContentKey.of(judge.name, kind.rawValue, request, response)
        return try await cached("judgment", key) { try await judge.judge(prompt: request, response: response, kind: kind) }
    }
}
