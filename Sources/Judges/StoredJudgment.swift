import Support
import Jobs

extension JobStore {
    /// A judge's verdict on a response to a request, computed once and kept (keyed by the
    /// judge's name and version, the request kind, the request and the response).
    public func judgment(_ judge: Judge, kind: RequestKind, request: String, response: String) async throws -> Judgment {
        let key = ContentKey.of(judge.identity, kind.rawValue, request, response)
        return try await cached("judgment", key) { try await judge.judge(prompt: request, response: response, kind: kind) }
    }

    /// Verdicts on many responses, each computed once and kept, `judge.concurrency` at a time,
    /// in the items' order; `arrived` hears of each as it comes (for progress).
    public func judgments(_ judge: Judge, _ items: [(kind: RequestKind, request: String, response: String)],
                          arrived: (Int, Judgment) throws -> Void = { _, _ in }) async throws -> [Judgment] {
        try await concurrentMap(items, width: judge.concurrency, arrived: arrived) { [self] in
            try await judgment(judge, kind: $0.kind, request: $0.request, response: $0.response)
        }
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
