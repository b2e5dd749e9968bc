import Foundation
import Testing

/// A Hugging Face folder whose tokenizer_config.json carries its own Jinja chat template trains
/// and generates through `saro` with that template; a folder without one falls back to ChatML
/// with a warning; `--chat-template FILE` renders with a template file.
@Suite(.tags(.process)) struct ChatTemplateCLITests {
    static let golden = TrainResumeTests.repo.appendingPathComponent("Tests/ModelsTests/Golden/chat_templates")

    struct Golden: Decodable { let templates: [String: String] }

    /// A tiny random model with the golden tokenizer and one of the golden templates.
    static func model(_ root: URL, template: String?, bos: String, eos: String) throws -> String {
        let dir = root.appendingPathComponent("model").path
        let r = try CLITests.saro(["model", "init", "--tokenizer-from", golden.path, "--hidden-size", "32", "--intermediate-size", "64",
                                   "--layers", "2", "--heads", "4", "--kv-heads", "2", "--seed", "3", "--out", dir])
        #expect(r.status == 0, "\(r.err)")
        var config: [String: Any] = ["tokenizer_class": "PreTrainedTokenizerFast", "bos_token": bos, "eos_token": eos, "add_bos_token": false]
        if let template { config["chat_template"] = template }
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: dir + "/tokenizer_config.json"))
        return dir
    }

    @Test func aModelsOwnTemplateTrainsAndGenerates() throws {
        let root = TrainResumeTests.work("chat-template")
        let golden = try JSONDecoder().decode(Golden.self, from: Data(contentsOf: Self.golden.appendingPathComponent("expected.json")))
        // Gemma 2's conventions: no system role, the assistant named "model", <end_of_turn>.
        let model = try Self.model(root, template: golden.templates["turns"], bos: "<bos>", eos: "<eos>")
        let data = root.appendingPathComponent("sft.jsonl")
        try Data((0..<8).map { #"{"messages": [{"role": "user", "content": "Is \#($0) even?"}, {"role": "assistant", "content": "<think>\nLast digit.\n</think>\nYes."}]}"# }
            .joined(separator: "\n").utf8).write(to: data)
        let out = root.appendingPathComponent("sft-out").path
        let t = try CLITests.saro(["train", "sft", "--model", model, "--data", data.path, "--out", out, "--max-steps", "2", "--batch-size", "4", "--quiet"])
        #expect(t.status == 0, "\(t.err)")
        #expect(!t.err.contains("no chat template"))
        let g = try CLITests.saro(["generate", "--model", model, "--adapter", out, "--greedy", "--max-tokens", "4", "Is 4 even?"])
        #expect(g.status == 0 && !g.err.contains("warning"), "\(g.err)")
        // The template refuses a system message, and saro says so with the template's words.
        let s = try CLITests.saro(["generate", "--model", model, "--system", "Be brief.", "--max-tokens", "2", "hi"])
        #expect(s.status == 1 && s.err.contains("refused the conversation: This template has no system role."), "\(s.err)")
        // A template file given on the command line renders instead (ChatML here, which has a system role).
        let file = root.appendingPathComponent("chatml.jinja")
        try Data(golden.templates["chatml_marked"]!.utf8).write(to: file)
        let f = try CLITests.saro(["generate", "--model", model, "--chat-template", file.path, "--system", "Be brief.", "--greedy", "--max-tokens", "2", "hi"])
        #expect(f.status == 0, "\(f.err)")
    }

    @Test func aFolderWithoutATemplateFallsBackToChatMLWithAWarning() throws {
        let root = TrainResumeTests.work("chat-template-none")
        let model = try Self.model(root, template: nil, bos: "<|endoftext|>", eos: "<|im_end|>")
        let g = try CLITests.saro(["generate", "--model", model, "--greedy", "--max-tokens", "2", "hi"])
        #expect(g.status == 0 && g.err.contains("saro: warning: the model's files carry no chat template; rendering conversations as ChatML"), "\(g.err)")
        let bad = try CLITests.saro(["generate", "--model", model, "--chat-template", "/nonexistent.jinja", "hi"])
        #expect(bad.status == 1 && bad.err.contains("/nonexistent.jinja"), "\(bad.err)")
    }
}
