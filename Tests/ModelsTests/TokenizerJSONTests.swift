import Support
import Foundation
import Testing
@testable import Tokenizers

/// tokenizer.json files with the pre-tokenizers of GPT-2, Llama 3 and Qwen2
/// (scripts/golden/make_tokenizer_json_golden.py) and SentencePiece-style ones with byte
/// fallback in the Llama 2, Mistral v0.3 and Gemma conventions
/// (scripts/golden/make_sentencepiece_golden.py), trained by Hugging Face `tokenizers`, against
/// the ids it gives for 600 strings.
@Suite struct TokenizerJSONTests {
    struct Expected: Decodable {
        struct Case: Decodable { let text: String; let ids: [Int]; let decoded: String }
        struct Chat: Decodable { let messages: [ChatMessage]; let add_generation_prompt: Bool; let ids: [Int] }
        struct WithSpecialTokens: Decodable { let text: String; let ids: [Int] }
        let cases: [Case]
        let chats: [Chat]
        let with_special_tokens: WithSpecialTokens?
    }

    static let sentencePiece = ["llama2", "mistral-v3", "gemma"]

    static func folder(_ name: String) throws -> URL {
        try #require(Bundle.module.url(forResource: "Golden/tokenizers/\(name)", withExtension: nil))
    }

    @Test(arguments: ["gpt2", "llama3", "qwen2", "mistral"] + sentencePiece)
    func encodesAndDecodesLikeTokenizers(name: String) throws {
        let dir = try Self.folder(name)
        let tokenizer = try Tokenizer(tokenizerJSON: dir.appendingPathComponent("tokenizer.json"))
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: dir.appendingPathComponent("expected.json")))
        var failures = 0
        for c in expected.cases {
            let ids = tokenizer.encode(c.text)
            if ids != c.ids || tokenizer.decode(c.ids) != c.decoded {
                failures += 1
                if failures <= 3 { Issue.record("\(name) \(c.text.debugDescription): got \(ids), expected \(c.ids)") }
            }
        }
        #expect(failures == 0)
        #expect(name != "qwen2" || tokenizer.normalizeNFC)
        #expect(name != "llama3" || tokenizer.ignoreMerges)
        #expect((tokenizer.sentencePiece != nil) == Self.sentencePiece.contains(name))
        if let w = expected.with_special_tokens { #expect(tokenizer.encode(w.text, addSpecialTokens: true) == w.ids) }
    }

    /// Llama 3 and Mistral chat templates from tokenizer_config.json against transformers'
    /// apply_chat_template with the families' published Jinja templates.
    @Test(arguments: ["llama3", "mistral"] + sentencePiece)
    func chatTemplatesMatchTransformers(name: String) throws {
        let dir = try Self.folder(name)
        let tokenizer = try Tokenizer(tokenizerJSON: dir.appendingPathComponent("tokenizer.json"))
        let template = try ChatTemplate.resolve(name: nil, tokenizer: tokenizer)
        #expect(template.format == nil, "the model's own template from tokenizer_config.json")
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: dir.appendingPathComponent("expected.json")))
        #expect(!expected.chats.isEmpty)
        for chat in expected.chats {
            let (ids, mask) = try template.render(chat.messages, tokenizer: tokenizer, addGenerationPrompt: chat.add_generation_prompt)
            #expect(ids == chat.ids)
            #expect(mask.contains(true) == chat.messages.contains { $0.role == "assistant" })
            // The trained tokens are the assistant's reply and its end-of-turn token, nothing of the user's.
            if let reply = chat.messages.first(where: { $0.role == "assistant" }) {
                let trained = tokenizer.decode(zip(ids, mask).filter(\.1).map(\.0))
                #expect(trained.contains(reply.content.components(separatedBy: "\n").last!) && !trained.contains("Python"), "\(name): \(trained)")
            }
        }
    }

    /// A SentencePiece-style tokenizer written back out (as `saro model init` and `export` do)
    /// reads back with the same encoding, decoding and settings.
    @Test(arguments: sentencePiece)
    func writtenSentencePieceTokenizerReadsBackIdentically(name: String) throws {
        let src = try Tokenizer(tokenizerJSON: Self.folder(name).appendingPathComponent("tokenizer.json"))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("saro-sp-\(getpid())-\(name)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try src.save(to: dir)
        let back = try Tokenizer(tokenizerJSON: dir.appendingPathComponent("tokenizer.json"))
        #expect(back.sentencePiece == src.sentencePiece && back.bosTokenId == src.bosTokenId && back.addBosToken == src.addBosToken)
        for text in ["Hello world 12345", "  x\n\ny", "<s>hi 日本 😀", " lead", ""] {
            #expect(back.encode(text, addSpecialTokens: true) == src.encode(text, addSpecialTokens: true))
            #expect(back.decode(src.encode(text)) == src.decode(src.encode(text)))
        }
    }

    @Test func writtenTokenizerJSONReadsBackIdentically() throws {
        let src = try Tokenizer(tokenizerJSON: Self.folder("llama3").appendingPathComponent("tokenizer.json"))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("saro-tok-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        src.chatTemplate = "{{ '<|im_start|>' }}"
        src.eosTokenId = src.id(of: "<|im_end|>")
        try src.save(to: dir)
        let back = try Tokenizer(tokenizerJSON: dir.appendingPathComponent("tokenizer.json"))
        #expect(back.chatTemplate == src.chatTemplate && back.eosTokenId == src.eosTokenId)
        for text in ["Hello world 12345", "  x\n\ny", "<|im_start|>hi"] { #expect(back.encode(text) == src.encode(text)) }
    }

    @Test func unsupportedTokenizersAreRefusedWithTheReason() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("saro-tok-bad-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let url = dir.appendingPathComponent("tokenizer.json")
        try Data(#"{"model": {"type": "Unigram", "vocab": []}}"#.utf8).write(to: url)
        #expect(throws: TokenizerError.self) { try Tokenizer(tokenizerJSON: url) }
        try Data(#"{"model": {"type": "BPE", "byte_fallback": true, "vocab": {}, "merges": []}, "pre_tokenizer": {"type": "ByteLevel"}}"#.utf8).write(to: url)
        do { _ = try Tokenizer(tokenizerJSON: url); Issue.record("byte fallback with a byte-level pre-tokenizer accepted") } catch { #expect("\(error)".contains("SentencePiece-style")) }
        try Data(#"{"model": {"type": "BPE", "vocab": {}, "merges": []}, "normalizer": {"type": "Replace", "pattern": {"Regex": " +"}, "content": "▁"}}"#.utf8).write(to: url)
        do { _ = try Tokenizer(tokenizerJSON: url); Issue.record("regex Replace accepted") } catch { #expect("\(error)".contains("regex")) }
        try Data("not json".utf8).write(to: url)
        do { _ = try Tokenizer(tokenizerJSON: url); Issue.record("garbage accepted") } catch { #expect("\(error)".contains(url.path)) }
    }
}
