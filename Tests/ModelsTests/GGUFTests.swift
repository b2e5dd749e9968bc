import Foundation
import Testing
@testable import Models
@testable import Tensor

@Suite struct GGUFTests {
    static let file: GGUFFile = try! GGUFFile(path: DefaultModel_goldenPath("dequant", "gguf"))

    @Test(arguments: ["Q8_0", "Q4_0", "Q4_1", "Q4_K", "Q5_K", "Q6_K", "F16", "BF16"])
    func dequantizationMatchesGGUFPython(type: String) throws {
        let got = try Self.file.tensor("q.\(type)")
        let expected = try Self.file.tensor("expected.\(type)")
        #expect(got.shape == [3, 512])
        #expect(got.scalars == expected.scalars)
    }

    @Test func metadataValuesOfEveryType() {
        let m = Self.file.metadata
        #expect(m["test.u32"]?.int == 4_000_000_000)
        #expect(m["test.i32"]?.int == -7)
        #expect(m["test.f32"]?.double == 0.25)
        #expect(m["test.f64"]?.double == -1.5)
        #expect(m["test.bool"]?.bool == true)
        #expect(m["test.string"]?.string == "héllo 😀")
        #expect(m["test.array"]?.array?.compactMap(\.string) == ["a", "bc", ""])
        #expect(m["test.u64"]?.int == 1 << 40)
        #expect(m["test.i64"]?.int == -(1 << 40))
        #expect(m["test.u8"]?.int == 200)
        #expect(m["test.i16"]?.int == -300)
        #expect(Self.file.version == 3)
    }

    @Test func truncatedFileNamesTheTensor() throws {
        let src = try Data(contentsOf: URL(fileURLWithPath: DefaultModel_goldenPath("dequant", "gguf")))
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("saro-trunc-\(getpid()).gguf").path
        try src.prefix(src.count - 100).write(to: URL(fileURLWithPath: path))
        do {
            _ = try GGUFFile(path: path)
            Issue.record("a truncated file loaded")
        } catch {
            #expect("\(error)".contains(path) && "\(error)".contains("truncated"))
        }
        try src.prefix(200).write(to: URL(fileURLWithPath: path))
        #expect(throws: GGUFError.self) { try GGUFFile(path: path) }
        try Data("GGUX....".utf8).write(to: URL(fileURLWithPath: path))
        do { _ = try GGUFFile(path: path) } catch { #expect("\(error)".contains("magic")) }
    }

    @Test func hfNamesMapToGGUFNames() {
        #expect(GGUFFile.ggufName(forHF: "model.layers.12.self_attn.q_proj.weight") == "blk.12.attn_q.weight")
        #expect(GGUFFile.ggufName(forHF: "model.layers.0.mlp.down_proj.weight") == "blk.0.ffn_down.weight")
        #expect(GGUFFile.ggufName(forHF: "model.layers.3.self_attn.k_proj.bias") == "blk.3.attn_k.bias")
        #expect(GGUFFile.ggufName(forHF: "model.embed_tokens.weight") == "token_embd.weight")
        #expect(GGUFFile.ggufName(forHF: "lm_head.weight") == "output.weight")
    }

    @Test func rotaryRowPermutationIsUndone() {
        // 2 heads of dim 4: GGUF rows per head are (0, 2, 1, 3) of Hugging Face's.
        let hf = Tensor((0..<8).map(Float.init), shape: [8, 1])
        let gguf = Tensor([0, 2, 1, 3, 4, 6, 5, 7], shape: [8, 1])
        #expect(GGUFFile.unpermuteRotaryRows(gguf, heads: 2).scalars == hf.scalars)
    }

    @Test func defaultModelConfigFromMetadata() throws {
        let c = try DefaultModel.gguf.llamaConfig()
        #expect(c.numHiddenLayers == 30 && c.hiddenSize == 576 && c.numAttentionHeads == 9 && c.numKeyValueHeads == 3)
        #expect(c.vocabSize == 49152 && c.tieWordEmbeddings && c.ropeTheta == 100000 && c.intermediateSize == 1536)
    }
}

func DefaultModel_goldenPath(_ name: String, _ ext: String) -> String {
    Bundle.module.url(forResource: "Golden/\(name)", withExtension: ext)!.path
}
