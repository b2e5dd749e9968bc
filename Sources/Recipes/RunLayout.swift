import Foundation

/// Where a run folder keeps what its stages write: the one place that spells the layout
/// (data/, checkpoints/, models/, eval/, logs/ and the run's own files).
struct RunLayout {
    let dir: String

    func path(_ relative: String) -> String { (dir as NSString).appendingPathComponent(relative) }

    /// The data sets the stages build, by file name in data/.
    enum DataSet: String, CaseIterable {
        case ritd, direct, safetyDPO = "safety_dpo", opcot, ppcot, opcotSRS = "opcot_srs"
    }

    /// The adapters the training stages write, by folder name in checkpoints/, and the label
    /// of the model each makes.
    enum Adapter: String, CaseIterable {
        case rw, saro, saroSRS = "saro-srs", safetySFT = "safety-sft", safetyDPO = "safety-dpo"
        /// Ablations: SRPO on one kind of preference pair only.
        case opcotOnly = "saro-opcot", ppcotOnly = "saro-ppcot"

        var label: String {
            switch self {
            case .rw: return "RW"
            case .saro: return "SaRO"
            case .saroSRS: return "SaRO+SRS"
            case .safetySFT: return "Safety-SFT"
            case .safetyDPO: return "Safety-DPO"
            case .opcotOnly: return "RW+OP-COT"
            case .ppcotOnly: return "RW+PP-COT"
            }
        }
    }

    var dataFolder: String { path("data") }
    func data(_ set: DataSet) -> String { path("data/\(set.rawValue).jsonl") }
    /// Several data sets joined into one training file (SRPO: OP-COT and PP-COT pairs).
    func joinedData(for stage: StageKind) -> String { path("data/\(stage.name).jsonl") }
    func checkpoint(_ adapter: Adapter) -> String { path("checkpoints/\(adapter.rawValue)") }
    /// The random model `init:` makes, and the RW model (the base with RW's adapter merged).
    var initializedBase: String { path("models/base") }
    var rwModel: String { path("models/rw") }
    /// An adapter stacked with RW's, for servers that hold only the base model.
    /// A checkpoint's folder is named with its adapter's (`saro-checkpoint-20-with-rw`).
    func stackedWithRW(_ adapter: String) -> String {
        let url = URL(fileURLWithPath: adapter)
        let name = url.lastPathComponent.hasPrefix("checkpoint-") ? url.deletingLastPathComponent().lastPathComponent + "-" + url.lastPathComponent : url.lastPathComponent
        return path("models/\(name)-with-rw")
    }
    /// A GGUF model saved as a Hugging Face folder (for TRL).
    func huggingFaceCopy(of modelName: String) -> String { path("models/\(modelName)-hf") }
    func evaluation(_ label: String) -> String { path("eval/\(Self.slug(label))") }
    func results(_ label: String) -> String { evaluation(label) + "/results.json" }
    /// A frontier point's evaluation: the adapter's checkpoint at part/of of its training.
    func frontierEvaluation(_ adapter: Adapter, part: Int, of: Int) -> String { path("eval/frontier/\(adapter.rawValue)-\(part)of\(of)") }
    func frontierResults(_ adapter: Adapter, part: Int, of: Int) -> String { frontierEvaluation(adapter, part: part, of: of) + "/results.json" }
    func serverLog(stage: StageKind, replica: Int?) -> String {
        path("logs/server-\(stage.name)" + (replica.map { "-\($0)" } ?? "") + ".log")
    }
    func trlLog(stage: StageKind) -> String { path("logs/trl-\(stage.name).log") }
    var stagesFile: String { path("stages.json") }
    var runLog: String { path("run.log") }
    var recipeFile: String { path("recipe.yaml") }
    var reportHTML: String { path("report.html") }
    var reportMarkdown: String { path("report.md") }

    /// A model label as a folder name: "SaRO+SRS" -> "saro-srs".
    static func slug(_ label: String) -> String { label.lowercased().replacingOccurrences(of: "+", with: "-") }
}

/// What a stage does, from which its name in `stages.json` and the logs follows.
enum StageKind: Hashable {
    case initModel
    case data(RunLayout.DataSet)
    case train(RunLayout.Adapter)
    case mergeRW
    case evaluate(label: String)
    /// A frontier point: an adapter's checkpoint at part/of of its training.
    case frontier(RunLayout.Adapter, part: Int, of: Int)
    case report

    var name: String {
        switch self {
        case .initModel: return "init-model"
        case .data(let set): return "data-" + set.rawValue.replacingOccurrences(of: "_", with: "-")
        case .train(let adapter): return "train-" + adapter.rawValue
        case .mergeRW: return "merge-rw"
        case .evaluate(let label): return "eval-" + RunLayout.slug(label)
        case .frontier(let adapter, let part, let of): return "eval-\(adapter.rawValue)-\(part)of\(of)"
        case .report: return "report"
        }
    }
}

/// What the plan's time estimates assume about the default recipe's data: typical tokens per
/// training example and examples per query, measured on its data sets. Only the estimate uses
/// them; the stages themselves read the real data.
enum TypicalSizes {
    /// A RIT-D example: jailbreak-wrapped prompt, reasoning and answer.
    static let ritdTokens = 350
    /// A direct-answer example (Safety-SFT): on 2026-12-06 prompts averaged 55 tokens, answers
    /// 110, the chat template about 35.
    static let directTokens = 200
    /// A Safety-DPO pair (prompt, chosen and rejected).
    static let safetyDPOPairTokens = 300
    /// An SRPO pair: the positions one DPO step runs for it (the prompt twice, the reasoning
    /// chosen and rejected); 2026-12-06's 370 pairs averaged about 1,860 characters.
    static let srpoPairTokens = 720
    /// Prompt positions a generation prefills: a chat-templated request (jailbreak-wrapped
    /// ones run to 300 tokens); a RIT-D benign request is shorter.
    static let evalPromptTokens = 120
    static let benignPromptTokens = 60
    /// Positions one reference-answer NLL item scores (question and reference answer), and one
    /// embedding-analysis prompt.
    static let nllItemTokens = 250
    static let embeddingPromptTokens = 60
    /// OP-COT and PP-COT pairs per query, together.
    static let srpoPairsPerQuery = 2.5
    /// Template families of the jailbreak evaluation set.
    static let jailbreakFamilies = 13
}
