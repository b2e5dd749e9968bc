import Foundation
import Testing
@testable import Models
@testable import Tensor
@testable import Tokenizers

/// The KV cache, batching and quantized weights must not change what the model computes.
@Suite struct GenerationTests {
    static func tinyModel(_ name: String = "gqa_llama3") throws -> LlamaModel {
        let file = try TinyLlamaGoldenTests.golden(name)
        let config = try JSONDecoder().decode(LlamaConfig.self, from: Data(file.metadata["config"]!.utf8))
        var weights: [String: Tensor] = [:]
        for n in file.names where !n.hasPrefix("grad.") && !n.hasPrefix("expected.") && n != "input_ids" && n != "labels" { weights[n] = try file.tensor(n) }
        return try LlamaModel(config: config, weights: weights)
    }

    /// |a - b| / |b| over all elements.
    static func relativeL2(_ a: Tensor, _ b: Tensor) -> Float {
        var d: Float = 0, n: Float = 0
        for i in 0..<b.count { d += (a.data[i] - b.data[i]) * (a.data[i] - b.data[i]); n += b.data[i] * b.data[i] }
        return (d / n).squareRoot()
    }

    static func maxDifference(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var worst: Float = 0
        for i in 0..<n { worst = max(worst, abs(a[i] - b[i])) }
        return worst
    }

    /// Gemma 2's case slides a 4-key window over its 9 tokens, so decoding must mask as training does.
    @Test(arguments: ["gqa_llama3", "tied_bias", "qwen2", "phi3", "gemma2"])
    func cachedDecodingEqualsFullForward(name: String) throws {
        let model = try Self.tinyModel(name)
        let v = model.config.vocabSize
        let ids: [Int32] = [3, 17, 5, 9, 30, 2, 11, 7, 1, 20]
        let full = GradMode.withNoGrad { model.forward(ids: ids, batch: 1, time: ids.count) }.value
        let cache = KVCache(config: model.config, batch: 1, capacity: 16)
        // Prefill 4 tokens, then one token at a time.
        let prefill = GradMode.withNoGrad { model.forward(ids: Array(ids[0..<4]), batch: 1, time: 4, cache: cache) }.value
        #expect(Self.maxDifference(prefill.data, full.data, 4 * v) < 1e-5)
        for t in 4..<ids.count {
            let step = GradMode.withNoGrad { model.forward(ids: [ids[t]], batch: 1, time: 1, cache: cache) }.value
            #expect(Self.maxDifference(step.data, full.data + t * v, v) < 1e-5, "position \(t)")
        }
        #expect(cache.length == ids.count)
    }

    @Test func leftPaddedBatchMatchesSingleSequences() throws {
        let model = try Self.tinyModel()
        let tokenizer = try SmolLM2GoldenTests.tinyTokenizer(vocab: model.config.vocabSize)
        let generator = Generator(model: model, tokenizer: tokenizer)
        let prompts = [[3, 4, 5], [9, 1, 2, 8, 8, 7, 6], [12]]
        let options = GenerationOptions(maxNewTokens: 12, sampling: .greedy)
        let batched = generator.generate(prompts: prompts, options: options)
        for (i, p) in prompts.enumerated() {
            let alone = generator.generate(prompts: [p], options: options)[0]
            #expect(batched[i].tokens == alone.tokens, "row \(i)")
            #expect(batched[i].tokens.count == 12 && batched[i].finishReason == .length)
        }
        // Seeded sampling: each row draws from its own seed's stream, so a batch reproduces
        // runs alone, whatever the row.
        let sampled = GenerationOptions(maxNewTokens: 8, sampling: SamplingParameters(temperature: 1.0, topK: 20, topP: 0.9, seed: 7))
        let b1 = generator.generate(prompts: prompts, options: sampled), b2 = generator.generate(prompts: prompts.reversed(), options: sampled)
        #expect(b1.map(\.tokens) == b2.map(\.tokens).reversed())
        for (i, p) in prompts.enumerated() { #expect(b1[i].tokens == generator.generate(prompts: [p], options: sampled)[0].tokens) }
    }

    /// Without streaming, a batch runs as one lane per core, each lane its own smaller batch on
    /// one thread; streaming runs it as one pass. Every row gets the same tokens either way.
    @Test func lanesGenerateWhatOnePassGenerates() throws {
        let model = try Self.tinyModel()
        let tokenizer = try SmolLM2GoldenTests.tinyTokenizer(vocab: model.config.vocabSize)
        let generator = Generator(model: model, tokenizer: tokenizer)
        let prompts = [[3, 4, 5], [9, 1, 2, 8, 8, 7, 6], [12], [5, 5], [7, 1, 30]]
        let requests = prompts.enumerated().map { i, p in
            GenerationRequest(prompt: p, options: GenerationOptions(maxNewTokens: 10, sampling: i % 2 == 0 ? .greedy : SamplingParameters(temperature: 1, seed: UInt64(i))))
        }
        let inLanes = generator.generate(requests: requests)
        #expect(generator.lastLanes == (BLAS.shared.supportsLanes ? min(Parallel.threads, prompts.count) : 1))
        var streamed = 0
        let onePass = generator.generate(requests: requests, onToken: { _, _, _ in streamed += 1 })
        #expect(generator.lastLanes == 1 && streamed > 0)
        #expect(inLanes.map(\.tokens) == onePass.map(\.tokens))
        #expect(inLanes.allSatisfy { $0.tokens.count == 10 })
    }

    /// Rows that finish early leave the batch (the cache keeps the running rows): the others
    /// must generate exactly what they generate alone.
    @Test func finishedRowsLeaveTheBatchWithoutChangingTheOthers() throws {
        let model = try Self.tinyModel()
        let tokenizer = try SmolLM2GoldenTests.tinyTokenizer(vocab: model.config.vocabSize)
        let generator = Generator(model: model, tokenizer: tokenizer)
        let prompts = [[3, 4, 5], [9, 1, 2, 8, 8, 7, 6], [12], [5, 5], [7, 1, 30], [2, 9, 4, 4]]
        let requests = prompts.enumerated().map { i, p in GenerationRequest(prompt: p, options: GenerationOptions(maxNewTokens: 2 + 3 * i)) }
        let batched = generator.generate(requests: requests)
        #expect(generator.compactions >= 3)
        for (i, r) in requests.enumerated() {
            let alone = generator.generate(requests: [r])[0]
            #expect(batched[i].tokens == alone.tokens && batched[i].tokens.count == 2 + 3 * i, "row \(i)")
        }
    }

    /// With fewer places than requests, each finished sequence's place goes to the next request,
    /// which joins the running batch whether its prompt is longer or shorter than what the batch
    /// holds: every request still generates exactly what it generates alone, in lanes or in one
    /// streamed pass, and a request with no room for new tokens gets none.
    @Test func requestsJoinTheBatchAsOthersFinish() throws {
        let model = try Self.tinyModel()
        let tokenizer = try SmolLM2GoldenTests.tinyTokenizer(vocab: model.config.vocabSize)
        let generator = Generator(model: model, tokenizer: tokenizer)
        let prompts = [[3, 4, 5], [9, 1], [12, 7, 7, 7, 7, 7, 7, 7, 7, 2, 2], [5], [7, 1, 30, 30, 4], [2, 9, 4, 4], [6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 1]]
        let lengths = [3, 14, 2, 9, 0, 5, 7]
        let requests = prompts.enumerated().map { i, p in
            GenerationRequest(prompt: p, options: GenerationOptions(maxNewTokens: lengths[i], sampling: i % 3 == 0 ? .greedy : SamplingParameters(temperature: 1, topP: 0.9, seed: UInt64(i))))
        }
        let alone = requests.map { generator.generate(requests: [$0])[0].tokens }
        #expect(alone.map(\.count) == lengths)
        let before = generator.compactions
        let refilled = generator.generate(requests: requests, width: 4)
        #expect(refilled.map(\.tokens) == alone)
        #expect(generator.compactions - before >= 4)
        var streamed = 0
        let onePass = generator.generate(requests: requests, width: 3, onToken: { _, _, _ in streamed += 1 })
        #expect(onePass.map(\.tokens) == alone && streamed > 0 && generator.lastLanes == 1)
    }

    /// Samples of one prompt share its prefill; each still draws from its own stream, exactly
    /// as when run alone.
    @Test func rowsWithTheSamePromptShareThePrefill() throws {
        let model = try Self.tinyModel()
        let tokenizer = try SmolLM2GoldenTests.tinyTokenizer(vocab: model.config.vocabSize)
        let generator = Generator(model: model, tokenizer: tokenizer)
        let prompts = [[3, 4, 5], [9, 1, 2, 8], [3, 4, 5], [3, 4, 5], [9, 1, 2, 8]]
        let requests = prompts.enumerated().map { i, p in
            GenerationRequest(prompt: p, options: GenerationOptions(maxNewTokens: 6 + i, sampling: SamplingParameters(temperature: 1, topP: 0.9, seed: UInt64(i))))
        }
        let batched = generator.generate(requests: requests)
        for (i, r) in requests.enumerated() {
            #expect(batched[i].tokens == generator.generate(requests: [r])[0].tokens, "row \(i)")
        }
        #expect(Set(batched.map(\.tokens)).count == prompts.count, "samples of one prompt drew the same tokens")
    }

    /// Prompts of very different lengths prefill in groups of similar length (padding at most
    /// a quarter of a row), whose caches are joined: each row's next-token logits are those of
    /// its prompt alone, duplicates share a prefill, the cache ends at the longest prompt with
    /// the room asked for, and decoding from it continues each prompt as it would alone.
    @Test func promptsOfDifferentLengthsPrefillInGroups() throws {
        #expect(Generator.prefillGroups(lengths: [958, 324, 243, 276, 1]) == [[0], [1, 3, 2], [4]])
        #expect(Generator.prefillGroups(lengths: [4, 4, 3]) == [[0, 1, 2]])
        let model = try Self.tinyModel()
        let tokenizer = try SmolLM2GoldenTests.tinyTokenizer(vocab: model.config.vocabSize)
        let generator = Generator(model: model, tokenizer: tokenizer)
        let v = model.config.vocabSize
        let prompts = [[3, 4, 5], [9, 1, 2, 8, 8, 7, 6, 4, 4, 2, 1, 7], [12], [3, 4, 5], [6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6]]
        let (cache, logits) = generator.prefill(prompts, capacity: 12 + 5, padId: 0)
        #expect(cache.batch == prompts.count && cache.length == 12 && cache.capacity == 17)
        for (i, p) in prompts.enumerated() {
            let (_, alone) = generator.prefill([p], capacity: p.count, padId: 0)
            #expect(Self.maxDifference(logits.data + i * v, alone.data, v) < 1e-5, "row \(i)")
        }
        let options = GenerationOptions(maxNewTokens: 5, sampling: .greedy)
        let batched = generator.generate(prompts: prompts, options: options)
        for (i, p) in prompts.enumerated() { #expect(batched[i].tokens == generator.generate(prompts: [p], options: options)[0].tokens, "row \(i)") }
    }

    /// A feed whose requests arrive while others decode (continuous batching): arrivals join
    /// the running batch without exceeding its width, each result is handed on when its
    /// request ends (short ones before the long one that was running first), and every request
    /// generates exactly what it generates alone.
    @Test func requestsFromAFeedJoinWhileOthersDecode() throws {
        final class Arrivals: RequestFeed {
            var waiting: [(key: Int, request: GenerationRequest)] = []
            var taken: [Int] = []
            var hasWaiting: Bool { !waiting.isEmpty }
            func take(_ n: Int) -> [(key: Int, request: GenerationRequest)] {
                let out = Array(waiting.prefix(n))
                waiting.removeFirst(out.count)
                taken.append(out.count)
                return out
            }
        }
        let model = try Self.tinyModel()
        let tokenizer = try SmolLM2GoldenTests.tinyTokenizer(vocab: model.config.vocabSize)
        let generator = Generator(model: model, tokenizer: tokenizer)
        let prompts = [[3, 4, 5], [9, 1], [12, 7, 7, 7, 7, 7, 7, 7], [5], [7, 1, 30, 30, 4]]
        let lengths = [20, 3, 4, 0, 5]
        let requests = prompts.enumerated().map { i, p in
            GenerationRequest(prompt: p, options: GenerationOptions(maxNewTokens: lengths[i], sampling: i % 2 == 0 ? .greedy : SamplingParameters(temperature: 1, topP: 0.9, seed: UInt64(i))))
        }
        let alone = requests.map { generator.generate(requests: [$0])[0].tokens }
        let feed = Arrivals()
        feed.waiting = [(0, requests[0])]
        var finishedOrder: [Int] = [], results: [Int: GenerationResult] = [:], steps = 0
        generator.generate(feed: feed, width: 3, onToken: { key, _, _ in
            // The others arrive once the first request is decoding.
            if key == 0 { steps += 1; if steps == 2 { feed.waiting += (1..<5).map { ($0, requests[$0]) } } }
        }, finished: { key, result in finishedOrder.append(key); results[key] = result })
        #expect((0..<5).map { results[$0]?.tokens ?? [-1] } == alone)
        #expect(Set(finishedOrder) == Set(0..<5) && finishedOrder.last == 0, "\(finishedOrder)")
        // They joined the running batch, two at first (the width is 3), the rest as places freed.
        #expect(feed.taken.first == 1 && feed.taken.dropFirst().allSatisfy { $0 <= 2 } && feed.taken.reduce(0, +) == 5, "\(feed.taken)")
    }

    @Test func stopTokensAndStreaming() throws {
        let model = try Self.tinyModel()
        let tokenizer = try SmolLM2GoldenTests.tinyTokenizer(vocab: model.config.vocabSize)
        let generator = Generator(model: model, tokenizer: tokenizer)
        let everything = Set(0..<model.config.vocabSize)
        let stopped = generator.generate(prompts: [[1, 2]], options: GenerationOptions(maxNewTokens: 5, stopTokens: everything))[0]
        #expect(stopped.finishReason == .stop && stopped.tokens.isEmpty)
        var streamed = ""
        let result = generator.generate(prompts: [[1, 2]], options: GenerationOptions(maxNewTokens: 9)) { row, _, delta in
            #expect(row == 0)
            streamed += delta
        }[0]
        #expect(streamed == result.text)
        #expect(result.text == tokenizer.decode(result.tokens))
    }

    /// Top-k and top-p sort only the most likely tokens: the chosen tokens and their
    /// probabilities must be those of sorting the whole vocabulary (written out here).
    @Test func nucleusFromTheLikelyTokensEqualsAFullSort() {
        func reference(_ logits: [Float], _ p: SamplingParameters) -> ([Int], [Double]) {
            let m = logits.max()!
            var tokens = Array(logits.indices)
            if p.topK > 0 { tokens = Array(tokens.sorted { logits[$0] != logits[$1] ? logits[$0] > logits[$1] : $0 < $1 }.prefix(p.topK)) }
            let w = tokens.map { Double(SIMDMath.scalarExp((logits[$0] - m) / p.temperature)) }
            let total = w.reduce(0, +)
            guard p.topP < 1 else { return (tokens, w.map { $0 / total }) }
            let order = tokens.indices.sorted { logits[tokens[$0]] != logits[tokens[$1]] ? logits[tokens[$0]] > logits[tokens[$1]] : tokens[$0] < tokens[$1] }
            var kept: [Int] = [], probs: [Double] = [], mass = 0.0
            for i in order {
                kept.append(tokens[i]); probs.append(w[i] / total); mass += w[i] / total
                if mass >= Double(p.topP) { break }
            }
            return (kept, probs.map { $0 / mass })
        }
        var rng = SplitMix64(seed: 11)
        // Peaked (a few likely tokens), flat (the nucleus spans thousands), and in between.
        for (std, params) in [(Float(4), SamplingParameters(temperature: 0.8, topP: 0.95)), (0.05, SamplingParameters(temperature: 1, topP: 0.9)),
                              (1, SamplingParameters(temperature: 0.7, topK: 40, topP: 0.8)), (2, SamplingParameters(temperature: 1.3, topK: 500)),
                              (0.01, SamplingParameters(temperature: 1, topK: 3000, topP: 0.5)), (3, SamplingParameters(temperature: 0.5)),
                              (0.5, SamplingParameters(temperature: 1, topP: 0.9))] {
            var logits = Tensor.randn([5003], std: std, rng: &rng).scalars
            // One spike far above a flat rest: the rest's mass is needed, so the sorted set
            // must widen beyond the first spread.
            if std == 0.5 { logits[17] += 9.5 }
            let (tokens, probs) = logits.withUnsafeBufferPointer { Sampler.distribution($0.baseAddress!, count: logits.count, parameters: params) }
            let (refTokens, refProbs) = reference(logits, params)
            #expect(tokens == refTokens, "std \(std) \(params): \(tokens.count) tokens against \(refTokens.count)")
            #expect(zip(probs, refProbs).allSatisfy { abs($0 - $1) < 1e-9 } && abs(probs.reduce(0, +) - 1) < 1e-9)
        }
    }

    @Test func samplerFollowsTheDistribution() {
        let logits: [Float] = [2, 1, 0, -1]
        var s = Sampler(SamplingParameters(temperature: 1, seed: 3))
        var counts = [0, 0, 0, 0]
        for _ in 0..<4000 { counts[logits.withUnsafeBufferPointer { s.sample($0.baseAddress!, count: 4) }] += 1 }
        let z = logits.map { exp(Double($0)) }.reduce(0, +)
        for i in 0..<4 { #expect(abs(Double(counts[i]) / 4000 - exp(Double(logits[i])) / z) < 0.03) }
        var topK = Sampler(SamplingParameters(temperature: 1, topK: 1, seed: 3))
        #expect(logits.withUnsafeBufferPointer { topK.sample($0.baseAddress!, count: 4) } == 0)
        var topP = Sampler(SamplingParameters(temperature: 1, topP: 0.5, seed: 3))
        for _ in 0..<50 { #expect(logits.withUnsafeBufferPointer { topP.sample($0.baseAddress!, count: 4) } == 0) }
        var greedy = Sampler(.greedy)
        #expect([0.5, 3, 1].withUnsafeBufferPointer { greedy.sample($0.baseAddress!, count: 3) } == 1)
    }

    @Test func quantizedMatmulEqualsDequantizedWeights() throws {
        let gguf = DefaultModel.gguf
        let config = try gguf.llamaConfig()
        let q = try gguf.llamaQuantizedWeights(config: config)
        let f = try gguf.llamaWeights(config: config)
        var rng = SplitMix64(seed: 5)
        for name in ["model.layers.0.self_attn.q_proj.weight", "model.layers.3.self_attn.k_proj.weight", "model.layers.7.mlp.down_proj.weight", "model.embed_tokens.weight"] {
            let loaded = try #require(q[name])
            #expect(loaded.packed != nil || !QuantizedMatrix.integerKernelAvailable, "\(name): decoding uses the integer kernel where the CPU has it")
            let m = QuantizedMatrix(type: loaded.type, rows: loaded.rows, cols: loaded.cols, bytes: loaded.bytes, integerKernel: false)
            #expect(m.dequantized().scalars == f[name]!.scalars, "\(name): quantized copy decodes to the float32 weights")
            for rows in [1, 3, 11] {
                let x = Tensor.randn([rows, m.cols], rng: &rng)
                let got = m.matmul(x), expected = x.matmul(f[name]!.transposed())
                let scale = expected.scalars.map(abs).max()!
                #expect(Self.maxDifference(got.data, expected.data, got.count) < 1e-5 * scale, "\(name), \(rows) rows")
            }
        }
        #expect(q["model.layers.0.self_attn.q_proj.weight"]?.type == .q4_1 && q["model.embed_tokens.weight"]?.type == .q8_0)
    }

    @Test func q4_0KernelMatchesDequantization() throws {
        let file = try GGUFFile(path: DefaultModel_goldenPath("dequant", "gguf"))
        let info = try #require(file.tensors["q.Q4_0"])
        let m = QuantizedMatrix(type: .q4_0, rows: info.shape[0], cols: info.shape[1], bytes: try file.rawBytes("q.Q4_0"))
        var rng = SplitMix64(seed: 6)
        let x = Tensor.randn([2, info.shape[1]], rng: &rng)
        let expected = x.matmul(try file.tensor("expected.Q4_0").transposed())
        let got = m.matmul(x)
        #expect(Self.maxDifference(got.data, expected.data, got.count) < 1e-4)
    }

    /// The integer kernel against gguf.quants (scripts/golden/make_dequant_golden.py): Q4 weights
    /// times activations through ggml's Q8_0 rounding (to float32 rounding), Q8_0 weights times
    /// the activations themselves, within the int16 rounding's bound (each activation off by at
    /// most half a step, max|x of its block| / 32767 / 2, times |w|), for 1 to 5 rows (one and
    /// two passes of four) and both groups of eight output rows.
    @Test(.enabled(if: QuantizedMatrix.integerKernelAvailable, "the CPU has no AVX-512 VNNI"))
    func integerKernelMatchesGGMLActivationRounding() throws {
        let file = try GGUFFile(path: DefaultModel_goldenPath("dequant", "gguf"))
        let x = try file.tensor("mm.x")
        for type in [GGMLType.q8_0, .q4_0, .q4_1] {
            let name = "mm.\(type == .q8_0 ? "Q8_0" : type == .q4_0 ? "Q4_0" : "Q4_1")"
            let info = try #require(file.tensors[name])
            let m = QuantizedMatrix(type: type, rows: info.shape[0], cols: info.shape[1], bytes: try file.rawBytes(name))
            #expect(m.packed != nil, "\(name) is packed")
            let expected = try file.tensor("mm.expected." + name.dropFirst(3))
            let w = m.dequantized().scalars, xs = x.scalars, k = m.cols
            for rows in 1...5 {
                let got = m.matmul(x.slice(0, 0..<rows).contiguous()).scalars
                let want = expected.slice(0, 0..<rows).contiguous().scalars
                let scale = want.map(abs).max()!
                for r in 0..<rows {
                    for n in 0..<m.rows {
                        var bound = 1e-5 * scale
                        if type == .q8_0 {
                            for i in 0..<k {
                                let block = xs[(r * k + i / 32 * 32)..<(r * k + i / 32 * 32 + 32)].map(abs).max()!
                                bound += abs(w[n * k + i]) * block / 32767 / 2
                            }
                        }
                        #expect(abs(got[r * m.rows + n] - want[r * m.rows + n]) <= bound, "\(name), row \(r) of \(rows), output \(n)")
                    }
                }
            }
        }
    }

    /// A LoRA adapter's update in decoding (added in place by the few-rows C pass) against the
    /// training path (two BLAS products, `LoRAAdapters.apply`), on float32 weights so the base
    /// products agree too; one row and six.
    @Test func loraUpdateInDecodingEqualsTheTrainingPath() throws {
        let loaded = try PretrainedModel.load(url: DefaultModel.path)
        let model = try LlamaModel(config: loaded.config, weights: loaded.weights)
        let adapters = try LoRAAdapters(config: LoRAConfig(rank: 8, alpha: 16, dropout: 0), model: model, seed: 2)
        var rng = SplitMix64(seed: 3)
        for (_, m) in adapters.modules { m.b.value.copyElements(from: Tensor.randn(m.b.value.shape, std: 0.05, rng: &rng)) }
        let ids: [Int32] = [1, 504, 3101, 28, 3205, 30]
        let base = GradMode.withNoGrad { model.forward(ids: ids, batch: 1, time: ids.count) }.value
        model.lora = adapters
        for n in [1, ids.count] {
            let decoded = GradMode.withNoGrad { model.forward(ids: Array(ids.prefix(n)), batch: 1, time: n) }.value
            let reference = model.forward(ids: Array(ids.prefix(n)), batch: 1, time: n).value
            let scale = reference.scalars.map(abs).max()!
            #expect(Self.maxDifference(decoded.data, reference.data, decoded.count) < 1e-4 * scale, "\(n) rows")
        }
        let adapted = GradMode.withNoGrad { model.forward(ids: ids, batch: 1, time: ids.count) }.value
        #expect(Self.maxDifference(adapted.data, base.data, base.count) > 0.1, "the adapter changes the logits")
    }

    /// An adapter folded into the default GGUF model (the adapted projections rounded to Q8_0)
    /// decodes the adapted model as faithfully as the base with the adapter as a separate
    /// update does (both against the adapted model in float32);
    /// the projections without an adapter keep their Q4_1 blocks.
    @Test func adapterFoldedIntoAGGUFModelDecodesLikeTheSeparateUpdate() throws {
        let loaded = try PretrainedModel.load(url: DefaultModel.path)
        let adapters = try LoRAAdapters(config: LoRAConfig(rank: 4, alpha: 8, dropout: 0, targetModules: ["q_proj", "v_proj", "down_proj"]),
                                        model: try loaded.makeModel(), seed: 7)
        var rng = SplitMix64(seed: 8)
        for path in adapters.modules.keys.sorted() {
            let b = adapters.modules[path]!.b.value
            b.copyElements(from: Tensor.randn(b.shape, std: 0.1, rng: &rng))
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("saro-fold-\(getpid())")
        try adapters.save(to: dir, baseModel: DefaultModel.path.path)
        defer { try? FileManager.default.removeItem(at: dir) }
        let folded = try loaded.makeModel(adapter: dir.path)
        let separate = try loaded.makeModel(adapter: dir.path, fold: false)
        #expect(folded.lora == nil && separate.lora != nil)
        #expect(folded.quantized["model.layers.3.self_attn.q_proj.weight"]?.type == .q8_0)
        #expect(folded.quantized["model.layers.3.self_attn.k_proj.weight"]?.type == loaded.quantized["model.layers.3.self_attn.k_proj.weight"]?.type)
        let ids: [Int32] = [1, 504, 3101, 28, 3205, 30]
        let base = GradMode.withNoGrad { try! loaded.makeModel().forward(ids: ids, batch: 1, time: ids.count) }.value
        let exactModel = try LlamaModel(config: loaded.config, weights: adapters.merged(into: loaded.weights))
        var worst: Float = 0
        for n in [1, ids.count] {
            let prefix = Array(ids.prefix(n))
            let a = GradMode.withNoGrad { folded.forward(ids: prefix, batch: 1, time: n) }.value
            let b = GradMode.withNoGrad { separate.forward(ids: prefix, batch: 1, time: n) }.value
            let exact = GradMode.withNoGrad { exactModel.forward(ids: prefix, batch: 1, time: n) }.value
            // Against the adapted model in float32, relative to the logits' norm: folded 5.0%
            // (1 row) and 2.0% (6 rows); the separate update on the Q4_1 blocks 0.7% and 4.1%.
            let (foldedError, separateError) = (Self.relativeL2(a, exact), Self.relativeL2(b, exact))
            #expect(foldedError < 0.08 && separateError < 0.08, "\(n) rows: folded \(foldedError), separate \(separateError)")
            worst = max(worst, foldedError)
        }
        // The adapter moves the logits well beyond that rounding.
        let adapted = GradMode.withNoGrad { folded.forward(ids: ids, batch: 1, time: ids.count) }.value
        #expect(Self.relativeL2(adapted, base) > 2 * worst, "the adapter changes the logits by \(Self.relativeL2(adapted, base))")
    }

    /// The decoding update at a rank and output counts that are not multiples of the kernel's
    /// 8- and 32-output blocks (the tiny model's projections), and after B changed the way
    /// training changes it (a forward pass with gradients, then new values): the decoding
    /// path reads B transposed and must not keep the old copy.
    @Test func loraDecodingUpdateAtOddShapesFollowsBAfterTraining() throws {
        let model = try Self.tinyModel()
        let adapters = try LoRAAdapters(config: LoRAConfig(rank: 3, alpha: 6, dropout: 0), model: model, seed: 5)
        var rng = SplitMix64(seed: 6)
        func randomizeB() { for (_, m) in adapters.modules { m.b.value.copyElements(from: Tensor.randn(m.b.value.shape, std: 0.2, rng: &rng)) } }
        randomizeB()
        model.lora = adapters
        let ids: [Int32] = [3, 17, 9, 40, 2]
        func check(_ what: String) {
            for n in [1, 3] {
                let decoded = GradMode.withNoGrad { model.forward(ids: Array(ids.prefix(n)), batch: 1, time: n) }.value
                let reference = model.forward(ids: Array(ids.prefix(n)), batch: 1, time: n).value
                let scale = reference.scalars.map(abs).max()!
                #expect(Self.maxDifference(decoded.data, reference.data, decoded.count) < 1e-4 * scale, "\(what), \(n) rows")
            }
        }
        check("first adapter")
        let before = GradMode.withNoGrad { model.forward(ids: [3], batch: 1, time: 1) }.value.scalars
        _ = model.forward(ids: ids, batch: 1, time: ids.count)  // a training step's forward pass,
        randomizeB()                                            // then its update of B
        check("B changed after a forward pass with gradients")
        let after = GradMode.withNoGrad { model.forward(ids: [3], batch: 1, time: 1) }.value.scalars
        #expect(zip(before, after).map { abs($0 - $1) }.max()! > 1e-3, "the new B reaches decoding")
    }

    /// Float32 weights through the few-rows kernel (decoding an unquantized model, such as a
    /// merged adapter) against BLAS, at the row counts of its one-row and several-row forms
    /// and past eight rows (two passes); 64-column blocks so the weight is two blocks wide.
    @Test func float32FewRowsMatmulEqualsBLAS() {
        var rng = SplitMix64(seed: 9)
        let weight = Tensor.randn([70, 64], rng: &rng)
        #expect(FewRowsMatmul.supports(float32: weight) && !FewRowsMatmul.supports(float32: Tensor.randn([4, 40], rng: &rng)))
        for rows in [1, 2, 8, 11] {
            let x = Tensor.randn([rows, 64], rng: &rng)
            let got = FewRowsMatmul.float32(x, weight: weight), expected = x.matmul(weight.transposed())
            #expect(got.shape == [rows, 70])
            #expect(Self.maxDifference(got.data, expected.data, got.count) < 1e-4, "\(rows) rows")
        }
    }

    @Test func defaultModelAnswersParis() throws {
        let loaded = try PretrainedModel.load(url: DefaultModel.path)
        let model = try loaded.makeModel()
        let template = try ChatTemplate.resolve(name: nil, tokenizer: loaded.tokenizer)
        let prompt = try template.render([.user("What is the capital of France?")], tokenizer: loaded.tokenizer, addGenerationPrompt: true).ids
        let result = Generator(model: model, tokenizer: loaded.tokenizer).generate(
            prompts: [prompt], options: GenerationOptions(maxNewTokens: 12, sampling: .greedy, stopTokens: template.stopTokenIds(tokenizer: loaded.tokenizer)))[0]
        #expect(result.text.contains("Paris"), "answer: \(result.text)")
    }
}
