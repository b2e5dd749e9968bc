import Foundation
import Testing

/// The model families users bring, each as a Hugging Face folder made the way a user's is laid
/// out: tiny random weights of the family's architecture (`saro model init --model-type`), the
/// family's kind of tokenizer trained by the golden scripts, and a chat template in
/// tokenizer_config.json. Each generates, trains and evaluates through `saro`.
@Suite(.tags(.process)) struct ModelFamiliesCLITests {
    struct Family: Sendable, CustomStringConvertible {
        let name: String
        let modelType: String
        /// A folder under Tests/ModelsTests/Golden with tokenizer.json (and tokenizer_config.json).
        let tokenizer: String
        /// A template of Golden/chat_templates/expected.json to put in tokenizer_config.json, with
        /// its BOS and EOS; nil keeps the tokenizer folder's own.
        let template: (name: String, bos: String, eos: String)?
        var description: String { name }
    }

    static let families = [
        Family(name: "Llama 2", modelType: "llama", tokenizer: "tokenizers/llama2", template: nil),
        Family(name: "Mistral v0.3", modelType: "mistral", tokenizer: "tokenizers/mistral-v3", template: nil),
        Family(name: "Gemma 2", modelType: "gemma2", tokenizer: "tokenizers/gemma", template: nil),
        Family(name: "Phi-3", modelType: "phi3", tokenizer: "tokenizers/llama2", template: nil),
        Family(name: "Qwen2.5", modelType: "qwen2", tokenizer: "chat_templates", template: ("chatml_tools", "<|endoftext|>", "<|im_end|>")),
        Family(name: "Llama 3.1", modelType: "llama", tokenizer: "chat_templates", template: ("dated_headers", "<|begin_of_text|>", "<|eot_id|>")),
    ]

    struct Templates: Decodable { let templates: [String: String] }

    @Test(arguments: families)
    func generatesTrainsAndEvaluates(family: Family) throws {
        let golden = TrainResumeTests.repo.appendingPathComponent("Tests/ModelsTests/Golden")
        let root = TrainResumeTests.work("family-\(family.modelType)-\(family.tokenizer.split(separator: "/").last!)")
        let model = root.appendingPathComponent("model").path
        let made = try CLITests.saro(["model", "init", "--model-type", family.modelType, "--tokenizer-from", golden.appendingPathComponent(family.tokenizer).path,
                                      "--hidden-size", "32", "--intermediate-size", "64", "--layers", "2", "--heads", "4", "--kv-heads", "2",
                                      "--std", "0.1", "--seed", "4", "--out", model])
        #expect(made.status == 0, "\(made.err)")
        if let t = family.template {
            let templates = try JSONDecoder().decode(Templates.self, from: Data(contentsOf: golden.appendingPathComponent("chat_templates/expected.json")))
            let config: [String: Any] = ["tokenizer_class": "PreTrainedTokenizerFast", "bos_token": t.bos, "eos_token": t.eos, "chat_template": templates.templates[t.name]!]
            try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: model + "/tokenizer_config.json"))
        }
        let config = try String(contentsOfFile: model + "/config.json", encoding: .utf8)
        #expect(config.contains("\"model_type\" : \"\(family.modelType)\""))

        let g = try CLITests.saro(["generate", "--model", model, "--greedy", "--max-tokens", "6", "Is 4 even?"])
        #expect(g.status == 0 && !g.err.contains("warning"), "\(family): \(g.err)")

        let data = root.appendingPathComponent("sft.jsonl")
        try Data((0..<8).map { #"{"messages": [{"role": "user", "content": "Is \#($0) even?"}, {"role": "assistant", "content": "<think>\nThe last digit.\n</think>\nYes."}]}"# }
            .joined(separator: "\n").utf8).write(to: data)
        let adapter = root.appendingPathComponent("sft").path
        let t = try CLITests.saro(["train", "sft", "--model", model, "--data", data.path, "--out", adapter, "--max-steps", "3", "--batch-size", "4",
                                   "--lr", "1e-2", "--logging-steps", "1", "--quiet"])
        #expect(t.status == 0, "\(family): \(t.err)")
        let losses = try String(contentsOfFile: adapter + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
            .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }.compactMap { $0["loss"] as? Double }
        #expect(losses.count == 3 && losses.last! < losses.first!, "\(family): losses \(losses)")

        let e = try CLITests.saro(["eval", "--model", model, "--adapter", adapter, "--suite", "quick", "--out", root.appendingPathComponent("eval").path,
                                   "--label", family.name, "--quiet"])
        #expect(e.status == 0 && e.out.contains("xstest:"), "\(family): \(e.err)")
    }
}
