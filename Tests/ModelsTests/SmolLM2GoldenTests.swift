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
        let cases: [Case]
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
