import Support
import Foundation
import Jobs
import Judges

/// What a builder asks a teacher to write.
public enum TeacherTask: Codable, Sendable, Hashable {
    /// A good response in the SaRO format: policy-guided reasoning, then the right answer.
    case reasoning(Query)
    /// A bad response in the same format: compliance with a harmful request, or an unneeded
    /// refusal of a benign one (OP-COT's contrastive rejected response).
    case contrastive(Query)
    /// A continuation of a flawed reasoning chain after its first `prefix` steps: a "Wait, ..."
    /// reflection, corrected reasoning, the closing tag and the right answer (PP-COT).
    case reflection(Query, prefix: [String])
    /// A direct answer without reasoning: a refusal or the answer (the Safety-SFT baseline).
    case direct(Query)

    public var query: Query {
        switch self {
        case .reasoning(let q), .contrastive(let q), .direct(let q), .reflection(let q, _): return q
        }
    }

    public var name: String {
        switch self {
        case .reasoning: return "reasoning"
        case .contrastive: return "contrastive"
        case .reflection: return "reflection"
        case .direct: return "direct"
        }
    }

    /// Content key of the task (the teacher's id is added by the caller).
    public var key: String {
        switch self {
        case .reflection(let q, let prefix): return ContentKey.of([name, q.key] + prefix)
        default: return ContentKey.of(name, query.key)
        }
    }
}

/// A model that writes training responses. Results are delivered one by one through
/// `deliver` as soon as each exists, so that the caller can store them before the next
/// arrives (a killed build keeps everything delivered).
public protocol Teacher: Sendable {
    /// Identifies the teacher and everything that shapes its output (model, prompts, policy);
    /// part of every cache key, so changing it reruns the calls.
    var id: String { get }
    func write(_ tasks: [TeacherTask], deliver: @escaping @Sendable (Int, String) throws -> Void) async throws
}

/// Answers benign prompts (the offline teacher takes these from the base model).
public protocol Answerer: Sendable {
    var id: String { get }
    /// Prompts worth answering in one call (a local model's decoding batch).
    var batchSize: Int { get }
    func answer(_ prompts: [String]) async throws -> [String]
}

extension Answerer {
    public var batchSize: Int { 8 }
}

extension Teacher {
    /// Runs the tasks that have no stored result in the job store, storing each result as it
    /// arrives; returns all results in task order.
    public func cachedWrite(_ tasks: [TeacherTask], store: JobStore, started: (Int) -> Void = { _ in },
                            advanced: @escaping @Sendable (Int) -> Void = { _ in }) async throws -> [String] {
        do {
            return try await store.cachedMap("teacher", keys: tasks.map { ContentKey.of(id, $0.key) }, started: { started($1) }) { missing, deliver in
                try await write(missing.map { tasks[$0] }) { j, text in
                    try deliver(missing[j], text)
                    advanced(1)
                }
            }
        } catch JobStoreError.missingResult(_, let key) {
            let task = tasks.first { ContentKey.of(id, $0.key) == key }
            throw TeacherError.missingResult(task: task?.name ?? "?", query: task?.query.id ?? key)
        }
    }
}

public enum TeacherError: Error, CustomStringConvertible {
    case missingResult(task: String, query: String)
    case promptFile(path: String, reason: String)

    public var description: String {
        switch self {
        case .missingResult(let t, let q): return "the teacher returned no \(t) result for query \(q)"
        case .promptFile(let p, let r): return "\(p): \(r)"
        }
    }
}
