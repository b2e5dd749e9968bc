import Evaluation
import Foundation
import SaRO

/// Evaluation examples from the method's data: seed sets by name, and the jailbreak evaluation
/// set built from the data settings' templates and evaluation sources (`JailbreakEvalSet`).
public struct MethodBenchmarkSources: BenchmarkSources {
    public let data: DataConfig
    public let sources: SeedSources
    public let templates: TemplateLibrary

    /// Reads the policy and the template library the data settings name.
    public init(data: DataConfig, log: @escaping @Sendable (String) -> Void = { _ in }) throws {
        let policy = try SafetyPolicy.load(path: data.policy)
        self.data = data
        sources = SeedSources(policy: policy, dataDirectory: data.dataDir, log: log)
        templates = try TemplateLibrary.standard(maxCharacters: data.maxTemplateChars, userFolder: data.templatesDir, log: log)
    }

    public func examples(_ source: String) throws -> [EvalExample] {
        try sources.load(source).map {
            EvalExample(id: $0.id, kind: $0.kind, prompt: $0.text, reference: $0.reference, groups: ["category": $0.category])
        }
    }

    public func jailbreakExamples(perFamily: Int?) throws -> [EvalExample] {
        try JailbreakEvalSet.build(config: data, templates: templates, sources: sources, perFamily: perFamily).map {
            EvalExample(id: $0.id, kind: .jailbreak, prompt: $0.prompt, request: $0.seed.text,
                        groups: ["family": $0.family ?? "", "split": $0.split ?? "", "template": $0.template ?? "", "category": $0.category])
        }
    }
}
