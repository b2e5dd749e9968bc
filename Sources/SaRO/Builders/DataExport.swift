import Support
import Foundation
import Jobs

/// Writes data files for other training engines.
/// - trl: TRL's conversational fields only (`messages`; `prompt`/`chosen`/`rejected`).
/// - llamafactory: LLaMA-Factory's sharegpt format with OpenAI-style role tags, plus
///   `dataset_info.json` describing every file (preference files with `ranking: true`).
/// - sharegpt: `conversations` of `from`/`value` turns (human, gpt, system); preference
///   records carry `chosen` and `rejected` turns.
/// LLaMA-Factory and ShareGPT have no partial assistant turn, so a process-level pair's
/// shared prefix is prepended to both of its completions.
public enum DataExport {
    public enum Format: String, CaseIterable, Sendable { case trl, llamafactory, sharegpt }

    public static func export(files: [String], format: Format, to dir: String) throws -> [String] {
        var written: [String] = []
        var info: [String: Any] = [:]
        for path in files {
            let name = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
            var lines: [String] = []
            var preference = false
            for (line, obj) in try JSONL.readObjects(path) {
                var out: [String: Any]
                if let messages = obj["messages"] as? [[String: Any]] {
                    out = sft(messages, format)
                } else if let prompt = obj["prompt"], let chosen = obj["chosen"], let rejected = obj["rejected"] {
                    preference = true
                    out = try pair(turns(prompt, role: "user"), turns(chosen, role: "assistant"), turns(rejected, role: "assistant"), format, path: path, line: line)
                } else { throw SourceError.malformed(path: path, line: line, reason: "neither messages nor prompt/chosen/rejected") }
                let data = try JSONSerialization.data(withJSONObject: out, options: [.sortedKeys, .withoutEscapingSlashes])
                lines.append(String(decoding: data, as: UTF8.self))
            }
            let file = "\(name).jsonl"
            try JSONL.writeAtomically(lines.map { $0 + "\n" }.joined(), to: (dir as NSString).appendingPathComponent(file))
            written.append(file)
            if format == .llamafactory {
                var entry: [String: Any] = [
                    "file_name": file, "formatting": "sharegpt",
                    "tags": ["role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant", "system_tag": "system"],
                ]
                if preference {
                    entry["ranking"] = true
                    entry["columns"] = ["messages": "messages", "chosen": "chosen", "rejected": "rejected"]
                } else { entry["columns"] = ["messages": "messages"] }
                info[name] = entry
            }
        }
        if format == .llamafactory {
            let data = try JSONSerialization.data(withJSONObject: info, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            try JSONL.writeAtomically(String(decoding: data, as: UTF8.self) + "\n", to: (dir as NSString).appendingPathComponent("dataset_info.json"))
            written.append("dataset_info.json")
        }
        return written
    }

    static func turns(_ v: Any, role: String) -> [[String: String]] {
        if let s = v as? String { return [["role": role, "content": s]] }
        return (v as? [[String: Any]] ?? []).map { ["role": $0["role"] as? String ?? role, "content": $0["content"] as? String ?? ""] }
    }

    static func shareGPT(_ m: [String: String]) -> [String: String] {
        let from = ["user": "human", "assistant": "gpt", "system": "system"][m["role"] ?? ""] ?? "human"
        return ["from": from, "value": m["content"] ?? ""]
    }

    static func sft(_ messages: [[String: Any]], _ format: Format) -> [String: Any] {
        let m = messages.map { ["role": $0["role"] as? String ?? "", "content": $0["content"] as? String ?? ""] }
        switch format {
        case .trl, .llamafactory: return ["messages": m]
        case .sharegpt: return ["conversations": m.map(shareGPT)]
        }
    }

    static func pair(_ prompt: [[String: String]], _ chosen: [[String: String]], _ rejected: [[String: String]], _ format: Format, path: String, line: Int) throws -> [String: Any] {
        if format == .trl { return ["prompt": prompt, "chosen": chosen, "rejected": rejected] }
        var context = prompt
        var prefix = ""
        if context.last?["role"] == "assistant" { prefix = context.removeLast()["content"] ?? "" }
        func joined(_ t: [[String: String]]) -> [String: String] { ["role": "assistant", "content": prefix + t.map { $0["content"] ?? "" }.joined()] }
        guard context.last?["role"] == "user" else { throw SourceError.malformed(path: path, line: line, reason: "a preference prompt must end with a user turn (or a partial assistant turn after one)") }
        switch format {
        case .llamafactory: return ["messages": context, "chosen": joined(chosen), "rejected": joined(rejected)]
        default: return ["conversations": context.map(shareGPT), "chosen": shareGPT(joined(chosen)), "rejected": shareGPT(joined(rejected))]
        }
    }
}
