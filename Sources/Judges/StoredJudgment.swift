import Support
import Jobs

extension JobStore {
    /// A judge's verdict on a response to a request, computed once and kept (keyed by the
    /// judge's name and version, the request kind, the request and the response).
    public func judgment(_ judge: Judge, kind: RequestKind, request: String, response: String) async throws -> Judgment {
        let key = ContentKey.of(judge.identity, kind.rawValue, request, response)
        return try await cached("judgment", key) { try await judge.judge(prompt: request, response: response, kind: kind) }
    }
}

extension JobStore {
    /// A step judge's verdict on a reasoning chain, computed once and kept (keyed by the step
    /// judge's name, the request kind, the request and the steps).
    public func stepVerdict(_ judge: StepJudging, kind: RequestKind, request: String, steps: [String]) async throws -> StepVerdict {
        let key = ContentKey.of([judge.name, kind.rawValue, request] + steps)
        return try await cached("step_verdict", key) { try await judge.judge(request: request, kind: kind, steps: steps) }
    }
}
