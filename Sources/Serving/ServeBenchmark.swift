import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Hummingbird

/// Load on a running server from concurrent HTTP clients: requests/s, generated tokens/s and
/// latency percentiles. The server runs in this process on a free loopback port.
public enum ServeBenchmark {
    public struct Result: Codable, Sendable {
        public var clients: Int
        public var requests: Int
        public var failures: Int
        public var max_tokens: Int
        public var seconds: Double
        public var requests_per_second: Double
        public var tokens_per_second: Double
        public var latency_p50_seconds: Double
        public var latency_p95_seconds: Double
        public var mean_batch: Double
    }

    public static func run(server: OpenAIServer, clients: Int, requestsPerClient: Int, maxTokens: Int) async throws -> Result {
        let ports = AsyncStream<Int>.makeStream()
        let app = server.application { ports.continuation.yield($0) }
        let task = Task { try await app.run() }
        defer { task.cancel() }
        var it = ports.stream.makeAsyncIterator()
        guard let port = await it.next() else { throw CancellationError() }
        let url = URL(string: "http://127.0.0.1:\(port)/v1/chat/completions")!
        let key = server.options.apiKey
        let start = Date()
        let samples = try await withThrowingTaskGroup(of: [(Double, Int, Bool)].self) { group in
            for c in 0..<clients {
                group.addTask {
                    var out: [(Double, Int, Bool)] = []
                    for r in 0..<requestsPerClient {
                        var request = URLRequest(url: url)
                        request.httpMethod = "POST"
                        request.timeoutInterval = 600
                        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
                        if let key { request.setValue("Bearer \(key)", forHTTPHeaderField: "Authorization") }
                        let body: [String: Any] = ["messages": [["role": "user", "content": "Request \(c)-\(r): write a short story about a robot."]],
                                                   "max_tokens": maxTokens, "temperature": 0.7, "seed": c * 1000 + r]
                        request.httpBody = try JSONSerialization.data(withJSONObject: body)
                        let t0 = Date()
                        let (data, response) = try await URLSession.shared.data(for: request)
                        let ok = (response as? HTTPURLResponse)?.statusCode == 200
                        let usage = ((try? JSONSerialization.jsonObject(with: data)) as? [String: Any])?["usage"] as? [String: Int]
                        out.append((Date().timeIntervalSince(t0), usage?["completion_tokens"] ?? 0, ok))
                    }
                    return out
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        let seconds = Date().timeIntervalSince(start)
        let latencies = samples.filter(\.2).map(\.0).sorted()
        func percentile(_ p: Double) -> Double { latencies.isEmpty ? 0 : latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))] }
        let batches = server.scheduler.batchSizes
        return Result(clients: clients, requests: samples.count, failures: samples.filter { !$0.2 }.count, max_tokens: maxTokens, seconds: seconds,
                      requests_per_second: Double(samples.count) / seconds, tokens_per_second: Double(samples.map(\.1).reduce(0, +)) / seconds,
                      latency_p50_seconds: percentile(0.5), latency_p95_seconds: percentile(0.95),
                      mean_batch: batches.isEmpty ? 0 : Double(batches.reduce(0, +)) / Double(batches.count))
    }
}
