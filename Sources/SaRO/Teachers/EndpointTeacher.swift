import Support
import Foundation
import Jobs
import Judges
import OpenAIClient

/// Teacher prompts: one Markdown file per task (`reasoning.md`, `contrastive.md`,
/// `reflection.md`, `direct.md`) with a `---system---` and a `---user---` part and
/// placeholders {{policy}}, {{prompt}}, {{request}}, {{kind}}, {{category}}, {{prefix}},
/// {{open}}, {{close}}. Users edit copies (`saro data prompts --out DIR`) and pass `--prompts DIR`.
public struct TeacherPrompts: Sendable {
    public var files: [String: (system: String, user: String)]
    public var fingerprint: String

    public static let tasks = ["reasoning", "contrastive", "reflection", "direct"]

    public static func builtInDirectory() throws -> URL { URL(fileURLWithPath: try SaROResources.path("prompts")) }

    /// Built-in prompts, each replaced by the file of the same name in `directory` if present.
    public static func load(directory: String?) throws -> TeacherPrompts {
        var files: [String: (String, String)] = [:]
        var texts: [String] = []
        for task in tasks {
            var path = try builtInDirectory().appendingPathComponent("\(task).md").path
            if let d = directory, FileManager.default.fileExists(atPath: (d as NSString).appendingPathComponent("\(task).md")) {
                path = (d as NSString).appendingPathComponent("\(task).md")
            }
            guard let data = FileManager.default.contents(atPath: path) else { throw TeacherError.promptFile(path: path, reason: "cannot read") }
            let text = String(decoding: data, as: UTF8.self)
            guard let s = text.range(of: "---system---"), let u = text.range(of: "---user---"), s.upperBound <= u.lowerBound else {
                throw TeacherError.promptFile(path: path, reason: "needs a ---system--- part followed by a ---user--- part")
            }
            files[task] = (String(text[s.upperBound..<u.lowerBound]).trimmingCharacters(in: .whitespacesAndNewlines),
                           String(text[u.upperBound...]).trimmingCharacters(in: .whitespacesAndNewlines))
            texts.append(text)
        }
        return TeacherPrompts(files: files, fingerprint: ContentKey.of(texts))
    }

    func messages(for task: TeacherTask, policy: SafetyPolicy, request: String, format: ResponseFormat) -> [ChatMessage] {
        let (system, user) = files[task.name] ?? ("", "{{prompt}}")
        var values: [String: String] = [
            "policy": policy.rendered(), "prompt": task.query.prompt, "request": request, "kind": task.query.kind.rawValue,
            "category": task.query.category, "open": format.open, "close": format.close, "prefix": "",
        ]
        if case .reflection(_, let prefix) = task { values["prefix"] = prefix.joined(separator: "\n\n") }
        func fill(_ s: String) -> String {
            var out = s
            for (k, v) in values { out = out.replacingOccurrences(of: "{{\(k)}}", with: v) }
            return out
        }
        return [ChatMessage(role: "system", content: fill(system)), ChatMessage(role: "user", content: fill(user))]
    }
}

/// A teacher behind an OpenAI-compatible endpoint. Requests run concurrently up to the
/// endpoint's limit; each result is delivered as soon as it arrives.
public struct EndpointTeacher: Teacher {
    public let client: ChatClient
    public let prompts: TeacherPrompts
    public let policy: SafetyPolicy
    public let templates: TemplateLibrary
    public let format: ResponseFormat
    public let parameters: ChatParameters

    public init(client: ChatClient, prompts: TeacherPrompts, policy: SafetyPolicy, templates: TemplateLibrary,
                format: ResponseFormat = .standard, parameters: ChatParameters = ChatParameters(temperature: 0.7, maxTokens: 1024, seed: 0)) {
        self.client = client; self.prompts = prompts; self.policy = policy; self.templates = templates; self.format = format; self.parameters = parameters
    }

    public var id: String {
        ContentKey.of("endpoint-teacher-v1", client.endpoint.baseURL, client.endpoint.model, prompts.fingerprint, policy.fingerprint,
                      "\(parameters.temperature)", "\(parameters.maxTokens)", "\(parameters.seed ?? -1)")
    }

    public func write(_ tasks: [TeacherTask], deliver: @escaping @Sendable (Int, String) throws -> Void) async throws {
        let requests = tasks.map { task in
            let request = task.query.kind == .jailbreak ? (templates.extract(task.query.prompt)?.request ?? task.query.seed.text) : task.query.prompt
            return prompts.messages(for: task, policy: policy, request: request, format: format)
        }
        let client = client, parameters = parameters
        _ = try await concurrentMap(requests, width: client.endpoint.maxConcurrency, arrived: deliver) {
            try await client.complete($0, parameters: parameters).content
        }
    }
}
