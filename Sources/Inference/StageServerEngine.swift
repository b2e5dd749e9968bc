import Support
import Foundation
import OpenAIClient
import Tokenizers

/// A server one stage uses: one that saro started (`ManagedServer`), or one the user runs
/// (`AttachedServer`). `stop()` ends what the stage set up: the process saro started, or the
/// adapter it loaded into the user's server.
public protocol StageServer: Sendable {
    var baseURL: String { get }
    var isRunning: Bool { get }
    func stop() async
}

/// A server-backed engine whose servers are set up on first use (a rerun whose answers are all
/// stored starts nothing) and released with `stop()`: one server, or several replicas that the
/// requests are spread over.
public final class StageServerEngine: InferenceEngine, @unchecked Sendable {
    public let fingerprint: String
    public let batchSize: Int
    private let tokenizer: Tokenizer?
    private let state: LaunchState

    /// - Parameters:
    ///   - modelKey: what names the weights by content (see `ServerEngine`).
    ///   - endpoint: the model's name and the client limits; the base URL is each server's.
    ///   - tokenizer: the model's tokenizer, read locally: tokens are counted without the server.
    ///   - replicas: servers to set up, each with `prepare(replica)`; requests go to them in turn.
    ///   - prepare: starts or attaches replica `i` (0-based).
    public init(modelKey: String, endpoint: ChatEndpoint, tokenizer: Tokenizer?, replicas: Int = 1,
                prepare: @escaping @Sendable (Int) async throws -> StageServer) {
        fingerprint = ServerEngine.fingerprint(modelKey: modelKey)
        batchSize = max(1, endpoint.maxConcurrency) * max(1, replicas)
        self.tokenizer = tokenizer
        state = LaunchState { [tokenizer] in
            let servers = try await withThrowingTaskGroup(of: (Int, StageServer).self) { group in
                for i in 0..<max(1, replicas) { group.addTask { (i, try await prepare(i)) } }
                var ready: [(Int, StageServer)] = []
                do {
                    for try await s in group { ready.append(s) }
                } catch {
                    // One replica failed: release the ones that came up.
                    for (_, s) in ready { await s.stop() }
                    throw error
                }
                return ready.sorted { $0.0 < $1.0 }.map(\.1)
            }
            let endpoints = servers.map { server -> ChatEndpoint in
                var e = endpoint
                e.baseURL = server.baseURL
                return e
            }
            return (servers, try ServerEngine(endpoints: endpoints, modelKey: modelKey, tokenizer: tokenizer))
        }
    }

    actor LaunchState {
        let launch: @Sendable () async throws -> ([StageServer], ServerEngine)
        var running: ([StageServer], ServerEngine)?
        init(launch: @escaping @Sendable () async throws -> ([StageServer], ServerEngine)) { self.launch = launch }

        /// The engine, setting the servers up on first use and again when one has died.
        func engine() async throws -> ServerEngine {
            if let running, running.0.allSatisfy(\.isRunning) { return running.1 }
            for s in running?.0 ?? [] { await s.stop() }
            running = nil
            running = try await launch()
            return running!.1
        }
        func stop() async {
            for s in running?.0 ?? [] { await s.stop() }
            running = nil
        }
    }

    public func complete(_ requests: [CompletionRequest]) async throws -> [Completion] {
        try await state.engine().complete(requests)
    }

    public func assistantNLL(_ conversations: [[ChatMessage]]) async throws -> [AssistantNLL]? {
        try await state.engine().assistantNLL(conversations)
    }

    public func countTokens(_ text: String) throws -> Int? { tokenizer?.encode(text, parseSpecial: false).count }

    public func stop() async { await state.stop() }
}
