import Support
import Foundation
import Testing
@testable import Models
@testable import Tensor
@testable import Tokenizers

/// The default model against transformers loading the same GGUF
/// (scripts/golden/make_smollm2_golden.py).
@Suite struct SmolLM2GoldenTests {
    struct TokenizerGolden: Decodable {
        struct Case: Decodable { let text: String; let ids: [Int]; let decoded: String }
        struct Chat: Decodable { let messages: [ChatMessage]; let add_generation_prompt: Bool; let ids: [Int] }
        let cases: [Case]
        let chats: [Chat]
    }

    /// A byte-level tokenizer whose vocabulary is the first `vocab` SmolLM2 tokens: enough to
    /// decode what a tiny test model generates.
    static func tinyTokenizer(vocab: Int) throws -> Tokenizer {
        let base = tokenizer
        var v: [String: Int] = [:]
        for (tok, id) in base.vocab where id < vocab || ByteLevel.byteToScalar.contains(where: { String($0) == tok }) { v[tok] = id }
        return try Tokenizer(vocab: v, merges: [], addedTokens: base.addedTokens.filter { $0.id < vocab }, preTokenizer: base.preTokenizer, source: "test")
    }
    struct LogprobGolden: Decodable {
        struct Text: Decodable { let text: String; let ids: [Int]; let logprobs: [Double] }
        let texts: [Text]
    }

    static let tokenizer: Tokenizer = try! DefaultModel.gguf.tokenizer()

    @Test func tokenizerMatchesTransformersOnAThousandStrings() throws {
        let golden = try JSONDecoder().decode(TokenizerGolden.self, from: Data(contentsOf: DefaultModel.goldenURL("smollm2_tokenizer", "json")))
        #expect(golden.cases.count >= 1000)
        var encodeFailures = 0, decodeFailures = 0
        for c in golden.cases {
            let ids = Self.tokenizer.encode(c.text)
            if ids != c.ids {
                encodeFailures += 1
                if encodeFailures <= 5 { Issue.record("encode \(c.text.debugDescription): got \(ids), expected \(c.ids)") }
            }
            if Self.tokenizer.decode(c.ids) != c.decoded {
                decodeFailures += 1
                if decodeFailures <= 5 { Issue.record("decode \(c.ids): got \(Self.tokenizer.decode(c.ids).debugDescription), expected \(c.decoded.debugDescription)") }
            }
        }
        #expect(encodeFailures == 0 && decodeFailures == 0)
    }

    @Test func chatTemplateMatchesTransformersAndMasksAssistantTokens() throws {
        let golden = try JSONDecoder().decode(TokenizerGolden.self, from: Data(contentsOf: DefaultModel.goldenURL("smollm2_tokenizer", "json")))
        let t = Self.tokenizer
        let template = try ChatTemplate.resolve(name: nil, tokenizer: t)
        // The GGUF's own Jinja template (with its default system prompt), not a built-in format.
        #expect(template.format == nil && template.warning == nil)
        for chat in golden.chats {
            let (ids, mask) = try template.render(chat.messages, tokenizer: t, addGenerationPrompt: chat.add_generation_prompt)
            #expect(ids == chat.ids)
            #expect(mask.count == ids.count)
            // The masked tokens are exactly the assistant contents, each with its <|im_end|>.
            let masked = zip(ids, mask).filter(\.1).map(\.0)
            let expected = chat.messages.filter { $0.role == "assistant" }.flatMap { t.encode($0.content) + [t.id(of: "<|im_end|>")!] }
            #expect(masked == expected)
        }
        #expect(throws: ChatTemplateError.emptyLossMask) { try template.render([.user("hi")], tokenizer: t, requireLoss: true) }
        // A partial assistant turn stays open, so generation continues the reasoning prefix.
        let open = try template.render([.user("hi"), .assistant("<think>\nWait,")], tokenizer: t, continueFinalMessage: true).ids
        #expect(t.decode(open).hasSuffix("<|im_start|>assistant\n<think>\nWait,"))
    }

    @Test func specialTokensAndSkipping() {
        let t = Self.tokenizer
        #expect(t.encode("<|im_start|>user") .first == 1)
        #expect(t.encode("<|im_start|>", parseSpecial: false).count > 1)
        #expect(t.eosTokenId == 2 && t.bosTokenId == 1)
        #expect(t.decode(t.encode("<|im_start|>hi<|im_end|>"), skipSpecialTokens: true) == "hi")
    }

    @Test func logProbsMatchTransformers() throws {
        let golden = try JSONDecoder().decode(LogprobGolden.self, from: Data(contentsOf: DefaultModel.goldenURL("smollm2_logprobs", "json")))
        let gguf = DefaultModel.gguf
        let config = try gguf.llamaConfig()
        let model = try LlamaModel(config: config, weights: try gguf.llamaWeights(config: config))
        for text in golden.texts {
            #expect(Self.tokenizer.encode(text.text) == text.ids)
            let ids = text.ids.map { Int32($0) }
            let logits = GradMode.withNoGrad { model.forward(ids: ids, batch: 1, time: ids.count) }
            let targets = ids.dropFirst().map { $0 } + [-100]
            let logp = GradMode.withNoGrad { Ops.gatherLogProbs(logits, targets: targets) }.value.scalars
            var worst = 0.0
            for (i, expected) in text.logprobs.enumerated() { worst = max(worst, abs(Double(logp[i]) - expected)) }
            #expect(worst < 2e-3, "max per-token log-prob difference \(worst) on \(text.text.prefix(30).debugDescription)")
        }
    }
}
