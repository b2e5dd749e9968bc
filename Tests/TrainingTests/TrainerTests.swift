import Foundation
import Testing
@testable import Models
@testable import Tensor
@testable import Tokenizers
@testable import Training

@Suite struct TrainerTests {
    static func session(_ kind: TrainingSession.Kind, data: String, options: TrainingOptions, out: URL) throws -> TrainingSession {
        let loaded = try PretrainedModel.load(url: try Fixtures.tinyModelFolder())
        return try TrainingSession(kind: kind, model: loaded, modelName: "tiny", data: data, options: options, outputDirectory: out)
    }

    static func options(batch: Int, accum: Int, steps: Int) -> TrainingOptions {
        var o = TrainingOptions()
        o.batchSize = batch; o.gradAccum = accum; o.maxSteps = steps; o.loggingSteps = 1; o.lr = 1e-3
        o.loraDropout = 0; o.maxLength = 128; o.warmupRatio = 0; o.lrSchedule = .constant
        return o
    }

    /// SmolLM2-135M's step arithmetic worked out by hand: per layer q and o 576x576, k and v
    /// 576x192, gate, up and down 576x1536 (P = 30 x 3,538,944); head 49,152 x 576; 9 heads of 64
    /// over a mean 256.5 keys at length 512; rank 16 over (in + out) = 10,176 per layer.
    @Test func stepArithmeticOfSmolLM2() {
        let c = LlamaConfig(vocabSize: 49_152, hiddenSize: 576, intermediateSize: 1536, numHiddenLayers: 30, numAttentionHeads: 9,
                            numKeyValueHeads: 3, tieWordEmbeddings: true)
        let a = StepArithmetic(config: c, length: 512, rank: 16, gradientCheckpointing: false)
        let (projections, head) = (2.0 * 30 * 3_538_944, 2.0 * 49_152 * 576)
        let (attention, lora) = (4.0 * 576 * 256.5 * 30, 2.0 * 16 * 10_176 * 30)
        #expect(a.forward == projections + head + attention + lora)
        #expect(a.backward == projections + head + 2 * attention + 2 * lora)
        #expect(a.recompute == 0 && abs(a.total - 620_414_208) < 1)
        let checkpointed = StepArithmetic(config: c, length: 512, rank: 16, gradientCheckpointing: true)
        #expect(checkpointed.recompute == projections + attention + lora)
    }

    @Test func firstDPOStepLossIsLn2() throws {
        let out = Fixtures.temporaryDirectory("dpo-ln2")
        let s = try Self.session(.dpo, data: try Fixtures.dpoData(), options: Self.options(batch: 4, accum: 1, steps: 3), out: out)
        var losses: [Double] = []
        try s.trainer.run { if case .step(_, _, let loss, _) = $0 { losses.append(loss) } }
        #expect(abs(losses[0] - log(2)) < 1e-6, "first loss \(losses[0])")
        #expect(losses[2] < losses[0], "DPO loss decreases: \(losses)")
        let metrics = try Fixtures.readMetrics(out)
        for key in ["loss", "grad_norm", "learning_rate", "epoch", "step", "tokens_per_second", "rewards/chosen", "rewards/rejected",
                    "rewards/accuracies", "rewards/margins", "logps/chosen", "logps/rejected"] {
            #expect(metrics[0][key] != nil, "metrics.jsonl has \(key)")
        }
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("adapter_model.safetensors").path))
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("reference_logps_train.safetensors").path))
    }

    /// batch 8 x accumulation 1 and batch 1 x accumulation 8: same loss and gradient norm.
    @Test(arguments: [TrainingSession.Kind.sft, .dpo])
    func accumulationEqualsLargeBatch(kind: TrainingSession.Kind) throws {
        let data = kind == .sft ? try Fixtures.sftData() : try Fixtures.dpoData()
        func run(_ batch: Int, _ accum: Int) throws -> [[String: Any]] {
            let out = Fixtures.temporaryDirectory("accum-\(batch)")
            try Self.session(kind, data: data, options: Self.options(batch: batch, accum: accum, steps: 3), out: out).trainer.run()
            return try Fixtures.readMetrics(out)
        }
        let big = try run(8, 1), small = try run(1, 8)
        #expect(big.count == 3 && small.count == 3)
        for (a, b) in zip(big, small) {
            let la = a["loss"] as! Double, lb = b["loss"] as! Double, ga = a["grad_norm"] as! Double, gb = b["grad_norm"] as! Double
            #expect(abs(la - lb) < 1e-5 * max(1, abs(la)), "loss \(la) vs \(lb)")
            #expect(abs(ga - gb) < 1e-4 * max(1, ga), "grad norm \(ga) vs \(gb)")
        }
    }

    @Test func sftLearnsAndEvaluatesOnAHeldOutSplit() throws {
        var o = Self.options(batch: 4, accum: 1, steps: 12)
        o.evalSplit = 0.25; o.evalSteps = 6; o.lr = 3e-3
        let out = Fixtures.temporaryDirectory("sft-eval")
        let s = try Self.session(.sft, data: try Fixtures.sftData(count: 24), options: o, out: out)
        #expect(s.evalExamples == 6)
        var evals: [[String: Double]] = []
        try s.trainer.run { if case .evaluated(let row) = $0 { evals.append(row) } }
        #expect(evals.count == 2)
        let rows = try Fixtures.readMetrics(out).filter { $0["loss"] != nil }
        #expect((rows.last!["loss"] as! Double) < (rows.first!["loss"] as! Double))
        #expect(evals[1]["eval_loss"]! < evals[0]["eval_loss"]! + 1e-9)
    }

    /// Examples cut to max_length are a warning with counts in the session's log (a long
    /// reasoning chain loses its answer silently otherwise); none when everything fits.
    @Test func truncatedExamplesAreAWarningWithCounts() throws {
        func logged(maxLength: Int, _ kind: TrainingSession.Kind) throws -> (lines: [String], report: DatasetReader.Report) {
            var o = Self.options(batch: 4, accum: 1, steps: 1)
            o.maxLength = maxLength
            var lines: [String] = []
            let loaded = try PretrainedModel.load(url: try Fixtures.tinyModelFolder())
            let s = try TrainingSession(kind: kind, model: loaded, modelName: "tiny", data: kind == .sft ? try Fixtures.sftData() : try Fixtures.dpoData(),
                                        options: o, outputDirectory: Fixtures.temporaryDirectory("truncation")) { lines.append($0) }
            return (lines, s.report)
        }
        for (kind, limit) in [(TrainingSession.Kind.sft, 24), (.dpo, 64)] {
            let short = try logged(maxLength: limit, kind)
            #expect(short.report.truncated > 0)
            let warning = try #require(short.lines.first { $0.hasPrefix("warning:") && $0.contains("max_length") }, "\(short.lines)")
            #expect(warning.contains("\(short.report.truncated) of \(short.report.read) examples are longer than max_length \(limit)"), "\(warning)")
            let long = try logged(maxLength: 512, kind)
            #expect(long.report.truncated == 0 && !long.lines.contains { $0.contains("max_length") }, "\(long.lines)")
        }
    }

    /// Gradient checkpointing recomputes each layer in the backward pass: the same losses,
    /// gradient norms and trained weights as keeping the activations, with LoRA dropout on
    /// (its masks are drawn again, the same) and with every weight trained.
    @Test(arguments: [(TrainingSession.Kind.sft, false), (.dpo, false), (.sft, true)])
    func gradientCheckpointingTrainsTheSameNumbers(kind: TrainingSession.Kind, full: Bool) throws {
        let data = kind == .sft ? try Fixtures.sftData() : try Fixtures.dpoData()
        func run(_ checkpointing: Bool) throws -> ([[String: Any]], URL) {
            var o = Self.options(batch: 4, accum: 2, steps: 3)
            o.loraDropout = 0.1; o.full = full; o.gradientCheckpointing = checkpointing
            if full { o.lr = 1e-4 }
            let out = Fixtures.temporaryDirectory("checkpointing-\(checkpointing)")
            try Self.session(kind, data: data, options: o, out: out).trainer.run()
            return (try Fixtures.readMetrics(out), out)
        }
        let (kept, keptDir) = try run(false), (recomputed, recomputedDir) = try run(true)
        #expect(kept.count == 3 && recomputed.count == 3)
        for (a, b) in zip(kept, recomputed) {
            for key in ["loss", "grad_norm"] {
                let x = a[key] as! Double, y = b[key] as! Double
                #expect(abs(x - y) <= 1e-6 * max(1, abs(x)), "\(key) \(x) vs \(y)")
            }
        }
        let file = full ? "model.safetensors" : "adapter_model.safetensors"
        let w1 = try SafeTensorsFile(path: keptDir.appendingPathComponent(file).path), w2 = try SafeTensorsFile(path: recomputedDir.appendingPathComponent(file).path)
        for name in w1.names {
            let d = zip(try w1.tensor(name).scalars, try w2.tensor(name).scalars).map { abs($0 - $1) }.max() ?? 0
            #expect(d < 1e-6, "\(name) differs by \(d)")
        }
    }

    /// A Phi-3 Hugging Face folder trains through the same session as a Llama: the default
    /// (Llama-named) LoRA targets become its fused modules, the adapter's config names those
    /// (as PEFT needs to load it on Phi3ForCausalLM), and the saved adapter reloads onto the
    /// base to give the trained model's logits.
    @Test func aPhi3FolderTrainsAndItsAdapterReloads() throws {
        let folder = try Fixtures.makeTinyModelFolder(seed: 3, modelType: "phi3")
        var o = Self.options(batch: 4, accum: 1, steps: 8)
        o.lr = 3e-3
        let out = Fixtures.temporaryDirectory("phi3-sft")
        let loaded = try PretrainedModel.load(url: folder)
        #expect(loaded.weights["model.layers.0.self_attn.qkv_proj.weight"] != nil && loaded.weights["model.layers.0.mlp.gate_up_proj.weight"] != nil)
        let s = try TrainingSession(kind: .sft, model: loaded, modelName: folder.path, data: try Fixtures.sftData(), options: o, outputDirectory: out)
        var losses: [Double] = []
        try s.trainer.run { if case .step(_, _, let loss, _) = $0 { losses.append(loss) } }
        #expect(losses.count == 8 && losses.last! < losses.first!, "losses \(losses)")
        let config = try LoRAAdapters.readConfig(out)
        #expect(config.targetModules == ["qkv_proj", "o_proj", "gate_up_proj", "down_proj"])

        let ids: [Int32] = [5, 9, 30, 2, 11, 7]
        let trained = GradMode.withNoGrad { s.trainer.model.forward(ids: ids, batch: 1, time: ids.count) }.value.scalars
        let reloaded = try loaded.makeModel(adapter: out.path)
        let again = GradMode.withNoGrad { reloaded.forward(ids: ids, batch: 1, time: ids.count) }.value.scalars
        // Float32 weights: the adapter is folded into them; unfolded it computes the same.
        let unfolded = try loaded.makeModel(adapter: out.path, fold: false)
        #expect(reloaded.lora == nil && unfolded.lora != nil)
        let separate = GradMode.withNoGrad { unfolded.forward(ids: ids, batch: 1, time: ids.count) }.value.scalars
        #expect(zip(separate, again).map { abs($0 - $1) }.max()! < 1e-4)
        let base = GradMode.withNoGrad { try! loaded.makeModel().forward(ids: ids, batch: 1, time: ids.count) }.value.scalars
        #expect(zip(trained, again).map { abs($0 - $1) }.max()! < 1e-4)
        #expect(zip(trained, base).map { abs($0 - $1) }.max()! > 1e-3, "the adapter changes the model")
    }

    @Test func nonFiniteStepIsSkippedAndLogged() throws {
        // A learning rate large enough to blow up the weights: later losses become non-finite,
        // those steps are skipped (no update) and logged rather than corrupting the run.
        var o = Self.options(batch: 4, accum: 1, steps: 6)
        o.full = true; o.lr = 1e8; o.maxGradNorm = 0
        let out = Fixtures.temporaryDirectory("nan")
        var skipped = 0
        try Self.session(.sft, data: try Fixtures.sftData(), options: o, out: out).trainer.run { if case .skipped = $0 { skipped += 1 } }
        let logged = try Fixtures.readMetrics(out).filter { $0["skipped"] != nil }.count
        #expect(skipped > 0 && skipped == logged)
    }

    @Test func optionsValidateAndScheduleShapes() throws {
        var o = TrainingOptions()
        o.batchSize = 0
        #expect(throws: TrainingError.self) { try o.validate() }
        #expect(LRSchedule.linear.rate(step: 5, totalSteps: 10, warmupSteps: 0, peak: 1) == 0.5)
        #expect(LRSchedule.cosine.rate(step: 5, totalSteps: 10, warmupSteps: 0, peak: 1) < 0.5000001)
        #expect(LRSchedule.constant.rate(step: 1, totalSteps: 10, warmupSteps: 4, peak: 2) == 0.5)
        // Plans are a pure function of the seed and every example is used once per epoch.
        let plan = StepPlan(lengths: (0..<16).map { $0 % 5 }, batchSize: 2, gradAccum: 2, epochs: 1, maxSteps: nil, seed: 3)
        let used = (0..<plan.totalSteps).flatMap { plan.microBatches(forStep: $0).flatMap { $0 } }
        #expect(used.sorted() == Array(0..<16))
        #expect(plan.microBatches(forStep: 2) == StepPlan(lengths: (0..<16).map { $0 % 5 }, batchSize: 2, gradAccum: 2, epochs: 1, maxSteps: nil, seed: 3).microBatches(forStep: 2))
        #expect(plan.visitedExamples == Array(0..<16))
        // A run cut short by max steps visits only the examples of its steps (DPO's reference
        // log-probs are computed for these alone).
        let short = StepPlan(lengths: (0..<16).map { $0 % 5 }, batchSize: 2, gradAccum: 1, epochs: 1, maxSteps: 3, seed: 3)
        let visited = short.visitedExamples
        #expect(visited == Set((0..<3).flatMap { short.microBatches(forStep: $0).joined() }).sorted())
        #expect(visited.count == 6)
    }

    @Test func malformedDataNamesFileLineAndField() throws {
        let url = Fixtures.temporaryDirectory("bad").appendingPathComponent("bad.jsonl")
        try Data("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"yo\"}]}\n{\"prompt\": \"x\"}\n".utf8).write(to: url)
        let reader = DatasetReader(tokenizer: try Fixtures.tokenizer(), template: ChatTemplate(format: .chatml), maxLength: 64)
        do { _ = try reader.readSFT(url.path); Issue.record("accepted") } catch { #expect("\(error)".hasPrefix("\(url.path):2:")) }
        try Data("{\"prompt\": \"x\", \"chosen\": \"a\"}\n".utf8).write(to: url)
        do { _ = try reader.readPreferences(url.path); Issue.record("accepted") } catch { #expect("\(error)" == "\(url.path):1: missing field 'rejected'") }
    }
}
