import ArgumentParser
import Foundation
import Models
import Tensor

struct ScoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Print the token ids of a raw text and each token's log-probability given its prefix.",
        discussion: "No chat template is applied, so the numbers can be checked against other tools (the first token has no log-probability).")

    @OptionGroup var modelOptions: ModelOptions
    @Flag(help: "Print JSON.") var json = false
    @Argument(help: "The text.") var text: String

    func run() throws {
        let loaded = try modelOptions.load()
        let model = try modelOptions.makeModel(loaded)
        let ids = loaded.tokenizer.encode(text)
        guard !ids.isEmpty else { throw ValidationError("the text has no tokens") }
        let logits = GradMode.withNoGrad { model.forward(ids: ids.map { Int32($0) }, batch: 1, time: ids.count) }
        let targets = ids.dropFirst().map { Int32($0) } + [-100]
        let logp = GradMode.withNoGrad { Ops.gatherLogProbs(logits, targets: targets) }.value.scalars
        let values: [Double?] = [nil] + (0..<(ids.count - 1)).map { Double(logp[$0]) }
        struct Out: Encodable { var ids: [Int]; var tokens: [String]; var logprobs: [Double?]; var total_logprob: Double }
        let tokens = ids.map { loaded.tokenizer.decode([$0]) }
        let total = values.compactMap { $0 }.reduce(0, +)
        if json {
            try printJSON(Out(ids: ids, tokens: tokens, logprobs: values, total_logprob: total))
        } else {
            for (i, id) in ids.enumerated() {
                print(String(format: "%6d  %@  %@", id, values[i].map { String(format: "%9.4f", $0) } ?? "        -", tokens[i].debugDescription))
            }
            print(String(format: "total log-probability %.4f over %d tokens", total, ids.count - 1))
        }
    }
}

struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Print the token ids and token strings of a text.")

    @OptionGroup var modelOptions: ModelOptions
    @Flag(help: "Print JSON.") var json = false
    @Flag(help: "Add the tokenizer's special tokens (BOS where the model uses one).") var addSpecialTokens = false
    @Argument(help: "The text.") var text: String

    func run() throws {
        let loaded = try modelOptions.load()
        let t = loaded.tokenizer
        let ids = t.encode(text, addSpecialTokens: addSpecialTokens)
        let tokens = ids.map { t.token($0) ?? "" }
        if json {
            struct Out: Encodable { var ids: [Int]; var tokens: [String] }
            try printJSON(Out(ids: ids, tokens: tokens))
        } else {
            for (id, tok) in zip(ids, tokens) { print(String(format: "%6d  %@", id, tok.debugDescription)) }
        }
    }
}
