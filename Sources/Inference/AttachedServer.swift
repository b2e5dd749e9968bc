import Foundation
import OpenAIClient

public enum AttachedServerError: Error, CustomStringConvertible {
    case unreachable(url: String, reason: String)
    case modelMissing(url: String, model: String, served: [String])
    case adapterRejected(url: String, adapter: String, reason: String)

    public var description: String {
        switch self {
        case .unreachable(let u, let r): return "no server answers at \(u) (GET /v1/models: \(r)); start it before the run"
        case .modelMissing(let u, let m, let s):
            return "the server at \(u) serves \(s.isEmpty ? "no models" : s.map { "'\($0)'" }.joined(separator: ", ")), not '\(m)' (engine.served_model names the base model as the server knows it)"
        case .adapterRejected(let u, let a, let r):
            return "the server at \(u) did not load the adapter \(a): \(r) (vLLM loads adapters at run time when started with --enable-lora and VLLM_ALLOW_RUNTIME_LORA_UPDATING=True; saro serve with --enable-runtime-lora; the adapter's folder must be readable by the server at the same path)"
        }
    }
}

/// A server the user runs (vLLM, SGLang, `saro serve`) with the base model, used by one stage.
/// A stage that needs an adapter on that base loads it under its own name at run time, the
/// way vLLM does (`POST /v1/load_lora_adapter`), and unloads it when the stage ends; the
/// server itself is never started or stopped by saro.
public final class AttachedServer: StageServer, @unchecked Sendable {
    public let baseURL: String
    private let client: ChatClient
    private let adapterName: String?

    private init(baseURL: String, client: ChatClient, adapterName: String?) {
        self.baseURL = baseURL; self.client = client; self.adapterName = adapterName
    }

    /// Checks that the server at `endpoint.baseURL` answers and serves `base`, then loads
    /// `adapter` (name, folder) when given. An adapter of that name left loaded by a killed
    /// run is replaced: the folder may hold newer weights.
    public static func attach(endpoint: ChatEndpoint, base: String, adapter: (name: String, path: String)?) async throws -> AttachedServer {
        // A server that is not up refuses at once, but the HTTP client keeps reconnecting
        // until the request's deadline: ask briefly.
        var probe = endpoint
        probe.maxRetries = min(endpoint.maxRetries, 1)
        probe.timeoutSeconds = min(endpoint.timeoutSeconds, 5)
        let served: [String]
        do { served = try await ChatClient(endpoint: probe).servedModels() } catch {
            throw AttachedServerError.unreachable(url: endpoint.baseURL, reason: "\(error)")
        }
        let client = ChatClient(endpoint: endpoint)
        guard served.contains(base) else { throw AttachedServerError.modelMissing(url: endpoint.baseURL, model: base, served: served) }
        guard let adapter else { return AttachedServer(baseURL: endpoint.baseURL, client: client, adapterName: nil) }
        if served.contains(adapter.name) { try? await client.unloadAdapter(name: adapter.name) }
        do { try await client.loadAdapter(name: adapter.name, path: adapter.path) } catch {
            throw AttachedServerError.adapterRejected(url: endpoint.baseURL, adapter: adapter.path, reason: "\(error)")
        }
        return AttachedServer(baseURL: endpoint.baseURL, client: client, adapterName: adapter.name)
    }

    /// The user's server keeps running; whether it still answers shows in the requests.
    public var isRunning: Bool { true }

    /// Unloads the stage's adapter (a server that went away meanwhile has nothing to unload).
    public func stop() async {
        if let adapterName { try? await client.unloadAdapter(name: adapterName) }
    }
}
