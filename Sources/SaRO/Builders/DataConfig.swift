import Support
import Foundation
import Judges
import Yams

/// What the data builders build: sources, sizes, the template split, the policy and the
/// format. Keys are snake_case in YAML (a recipe's `data:` section); unknown keys are errors.
public struct DataConfig: Codable, Sendable, Equatable, ConfigKeyed {
    public var harmfulSources = ["advbench", "donotanswer"]
    public var benignSources = ["gsm8k-train", "humaneval-train", "everyday", "borderline"]
    /// Prompts that must never reach training (checked by normalized-text hash).
    public var evalSources = ["harmbench", "jailbreakbench", "xstest-safe", "xstest-unsafe", "gsm8k-test", "humaneval-eval"]
    /// Harmful seeds wrapped in templates for the jailbreak evaluation set.
    public var jailbreakEvalSources = ["jailbreakbench"]
    public var harmful = 40
    public var jailbreak = 40
    public var benign = 60
    /// Jailbreak evaluation: seeds per template family.
    public var jailbreakEvalPerFamily = 10
    public var heldOutFamilies = ["developer_mode", "past_tense", "payload_splitting", "nesting"]
    /// Templates longer than this many characters are not used (long personas cost context).
    public var maxTemplateChars = 1500
    public var seed: UInt64 = 0
    public var policy: String?
    public var prompts: String?
    public var templatesDir: String?
    public var dataDir: String?
    public var thinkOpen = "<think>"
    public var thinkClose = "</think>"
    /// Reject teacher outputs whose reasoning block is malformed.
    public var requireFormat = true
    /// Tokens for the offline teacher's benign answers.
    public var answerTokens = 200
    /// Sampling temperature of the offline teacher's benign answers (0: greedy). At 1 the
    /// answers are samples of the answer model's own distribution, so training on them leaves
    /// that distribution about where it was; greedy answers are its mode, and training on them
    /// sharpens it (on SmolLM2-135M, Safety-SFT on greedy answers raised the reference-answer
    /// NLL by 25%, on temperature-1 samples by 4%).
    public var answerTemperature: Float = 0

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case harmfulSources = "harmful_sources", benignSources = "benign_sources", evalSources = "eval_sources"
        case jailbreakEvalSources = "jailbreak_eval_sources", harmful, jailbreak, benign, jailbreakEvalPerFamily = "jailbreak_eval_per_family"
        case heldOutFamilies = "held_out_families", maxTemplateChars = "max_template_chars", seed, policy, prompts
        case templatesDir = "templates_dir", dataDir = "data_dir", thinkOpen = "think_open", thinkClose = "think_close"
        case requireFormat = "require_format", answerTokens = "answer_tokens", answerTemperature = "answer_temperature"
    }

    public static var keys: [String] { CodingKeys.allCases.map(\.rawValue) }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = DataConfig()
        harmfulSources = try c.decodeIfPresent([String].self, forKey: .harmfulSources) ?? d.harmfulSources
        benignSources = try c.decodeIfPresent([String].self, forKey: .benignSources) ?? d.benignSources
        evalSources = try c.decodeIfPresent([String].self, forKey: .evalSources) ?? d.evalSources
        jailbreakEvalSources = try c.decodeIfPresent([String].self, forKey: .jailbreakEvalSources) ?? d.jailbreakEvalSources
        harmful = try c.decodeIfPresent(Int.self, forKey: .harmful) ?? d.harmful
        jailbreak = try c.decodeIfPresent(Int.self, forKey: .jailbreak) ?? d.jailbreak
        benign = try c.decodeIfPresent(Int.self, forKey: .benign) ?? d.benign
        jailbreakEvalPerFamily = try c.decodeIfPresent(Int.self, forKey: .jailbreakEvalPerFamily) ?? d.jailbreakEvalPerFamily
        heldOutFamilies = try c.decodeIfPresent([String].self, forKey: .heldOutFamilies) ?? d.heldOutFamilies
        maxTemplateChars = try c.decodeIfPresent(Int.self, forKey: .maxTemplateChars) ?? d.maxTemplateChars
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? d.seed
        policy = try c.decodeIfPresent(String.self, forKey: .policy)
        prompts = try c.decodeIfPresent(String.self, forKey: .prompts)
        templatesDir = try c.decodeIfPresent(String.self, forKey: .templatesDir)
        dataDir = try c.decodeIfPresent(String.self, forKey: .dataDir)
        thinkOpen = try c.decodeIfPresent(String.self, forKey: .thinkOpen) ?? d.thinkOpen
        thinkClose = try c.decodeIfPresent(String.self, forKey: .thinkClose) ?? d.thinkClose
        requireFormat = try c.decodeIfPresent(Bool.self, forKey: .requireFormat) ?? d.requireFormat
        answerTokens = try c.decodeIfPresent(Int.self, forKey: .answerTokens) ?? d.answerTokens
        answerTemperature = try c.decodeIfPresent(Float.self, forKey: .answerTemperature) ?? d.answerTemperature
    }

    public var format: ResponseFormat { ResponseFormat(open: thinkOpen, close: thinkClose) }

    /// Reads a YAML file (a whole file, or its `data:` section when it is a recipe).
    public static func load(path: String) throws -> DataConfig {
        guard let data = FileManager.default.contents(atPath: path) else { throw SourceError.missing(path) }
        let text = String(decoding: data, as: UTF8.self)
        guard var node = try Yams.compose(yaml: text) else { return DataConfig() }
        if let section = node.mapping?["data"] { node = section }
        return try decode(node, path: path)
    }

    /// The defaults with a YAML mapping's settings over them.
    public static func decode(_ node: Node, path: String) throws -> DataConfig {
        try ConfigLayers.overlay(DataConfig(), node, path: path, section: "data")
    }
}
