import Support
import ArgumentParser
import Foundation
import Models
import Tokenizers

struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generate an assistant answer to a prompt, or to every prompt of a JSONL file.",
        discussion: """
            The prompt is rendered with the model's chat template as a user message. With --file, \
            each line is {"prompt": "..."} (or {"messages": [...]}) and the answers are written as \
            JSONL ({"prompt", "response", "finish_reason", "prompt_tokens", "completion_tokens"}) to \
            --output (default: standard output), generated in batches.
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var chat: ChatOptions
    @Flag(help: "Pick the most likely token at every step (same as --temperature 0).") var greedy = false
    @Option(help: "Sampling temperature.") var temperature: Float = 0.7
    @Option(help: "Keep the k most likely tokens (0: all).") var topK = 0
    @Option(help: "Nucleus sampling mass.") var topP: Float = 1
    @Option(help: "Random seed.") var seed: UInt64 = 0
    @Option(help: "Maximum new tokens.") var maxTokens = 256
    @Option(help: "Stop when this text appears (repeatable).") var stop: [String] = []
    @Option(help: "JSONL file of prompts.") var file: String?
    @Option(help: "Output JSONL (with --file).") var output: String?
    @Option(help: "Prompts generated together (with --file).") var batchSize = 16
    @Argument(help: "The prompt.") var prompt: String?

    func validate() throws {
        if (file == nil) == (prompt == nil) { throw ValidationError("give either a PROMPT or --file") }
        if maxTokens < 1 { throw ValidationError("--max-tokens must be at least 1") }
        if batchSize < 1 { throw ValidationError("--batch-size must be at least 1") }
        if !(temperature >= 0 && temperature.isFinite) { throw ValidationError("--temperature must be a number >= 0") }
        if !(topP > 0 && topP <= 1) { throw ValidationError("--top-p must be in (0, 1]") }
        if topK < 0 { throw ValidationError("--top-k must be >= 0") }
    }

    func run() throws {
        let loaded = try modelOptions.load()
        let model = try modelOptions.makeModel(loaded)
        let tokenizer = loaded.tokenizer
        let template = try ChatTemplate.resolve(name: chat.chatTemplate, tokenizer: tokenizer)
        if let w = template.warning { FileHandle.standardError.write(Data("saro: warning: \(w)\n".utf8)) }
        let generator = Generator(model: model, tokenizer: tokenizer)
        let options = GenerationOptions(
            maxNewTokens: maxTokens,
            sampling: greedy ? .greedy : SamplingParameters(temperature: temperature, topK: topK, topP: topP, seed: seed),
            stopTokens: template.stopTokenIds(tokenizer: tokenizer), stopStrings: stop)
        if let prompt {
            let ids = try template.render(chat.messages(user: prompt), tokenizer: tokenizer, addGenerationPrompt: true).ids
            do { try generator.checkFits(promptTokens: ids.count, maxNewTokens: maxTokens) } catch { throw CommandError("\(error)") }
            _ = generator.generate(prompts: [ids], options: options) { _, _, delta in
                FileHandle.standardOutput.write(Data(delta.utf8))
            }
            print()
            return
        }
        let records = try PromptFile.read(file!)
        // Every prompt is rendered and checked against the context before any is generated:
        // a line that cannot fit stops the run with its line number, before work is spent.
        let prompts = try records.map { r in
            let ids = try template.render(r.messages(system: chat.system), tokenizer: tokenizer, addGenerationPrompt: true).ids
            do { try generator.checkFits(promptTokens: ids.count, maxNewTokens: maxTokens) } catch { throw CommandError("\(file!):\(r.line): \(error)") }
            return ids
        }
        var lines: [String] = []
        for start in stride(from: 0, to: records.count, by: batchSize) {
            let part = start..<min(records.count, start + batchSize)
            let chunk = Array(records[part])
            // Line i samples with seed + i: lines with the same prompt differ, and no line's text
            // depends on --batch-size.
            let requests = part.map { i in
                var o = options
                o.sampling.seed = seed &+ UInt64(i)
                return GenerationRequest(prompt: prompts[i], options: o)
            }
            let results = generator.generate(requests: requests)
            for (r, g) in zip(chunk, results) {
                let row = GenerationRecord(prompt: r.prompt, messages: r.messagesField, response: g.text, finish_reason: g.finishReason.rawValue,
                                           prompt_tokens: g.promptTokens, completion_tokens: g.tokens.count)
                let enc = JSONEncoder()
                enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                lines.append(String(decoding: try enc.encode(row), as: UTF8.self))
            }
            FileHandle.standardError.write(Data("saro: generated \(min(records.count, start + batchSize))/\(records.count)\n".utf8))
        }
        let text = lines.joined(separator: "\n") + "\n"
        if let output { try Data(text.utf8).write(to: URL(fileURLWithPath: output), options: .atomic) } else { print(text, terminator: "") }
    }
}

struct GenerationRecord: Codable {
    var prompt: String?
    var messages: [ChatMessage]?
    var response: String
    var finish_reason: String
    var prompt_tokens: Int
    var completion_tokens: Int
}

/// A JSONL file of prompts: {"prompt": "..."} or {"messages": [{"role", "content"}, ...]}.
struct PromptFile {
    struct Record: Decodable {
        /// The record's line in the file (1-based), for error messages.
        var line = 0
        var prompt: String?
        var messagesField: [ChatMessage]?
        enum CodingKeys: String, CodingKey { case prompt, messagesField = "messages" }
        func messages(system: String?) -> [ChatMessage] {
            if let m = messagesField { return m }
            return (system.map { [ChatMessage.system($0)] } ?? []) + [.user(prompt ?? "")]
        }
    }

    static func read(_ path: String) throws -> [Record] {
        guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("\(path): cannot read the file") }
        var out: [Record] = []
        for (i, line) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.trimmingCharacters(in: .whitespaces).isEmpty { continue }
            do {
                var r = try JSONDecoder().decode(Record.self, from: Data(line.utf8))
                r.line = i + 1
                guard r.prompt != nil || r.messagesField != nil else { throw ValidationError("needs a \"prompt\" or \"messages\" field") }
                out.append(r)
            } catch {
                throw ValidationError("\(path):\(i + 1): malformed record: \(error)")
            }
        }
        return out
    }
}
