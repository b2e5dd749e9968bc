import Support
import ArgumentParser
import Foundation
import Tensor
import Models
import Training

/// `saro bench train`: LoRA SFT and DPO step throughput, beside PyTorch + PEFT.
struct TrainBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Benchmark training steps: LoRA SFT tokens/s and DPO pairs/s.",
        discussion: """
            Times full optimizer steps (forward, backward, AdamW) of LoRA SFT at --batch x --length \
            random tokens (rank --rank on every linear layer) and of DPO on --dpo-pairs pairs of \
            length --length, best of --steps after a warm-up. With --reference, \
            scripts/bench/train_reference.py runs the same SFT step in PyTorch + PEFT on the same \
            model (python3 with torch, transformers, peft and gguf) and the ratio is printed. With \
            --gradient-checkpointing the same steps run again recomputing each layer in the \
            backward pass, and its speed and peak memory are printed as ratios to the first run's. \
            Each rate is also given as model arithmetic (the step's products counted from the \
            model's shapes) against sgemm's rate on a training-shaped product in the same process: \
            the share of the bound the matrix products set.
            """)

    @OptionGroup var modelOptions: ModelOptions
    @Flag(help: "Print JSON.") var json = false
    @Option(help: "Sequences per step.") var batch = 4
    @Option(help: "Tokens per sequence.") var length = 512
    @Option(help: "LoRA rank.") var rank = 16
    @Option(help: "Timed steps (after one warm-up).") var steps = 3
    @Option(help: "Pairs per DPO step.") var dpoPairs = 2
    @Flag(help: "Also run the PyTorch + PEFT reference.") var reference = false
    @Option(help: "The reference script.") var referenceScript = "scripts/bench/train_reference.py"
    @Flag(help: "Also run the steps with gradient checkpointing and print its ratios to the plain run.") var gradientCheckpointing = false

    func run() throws {
        let loaded = try modelOptions.load()
        let r = try TrainingBenchmark.run(loaded: loaded, batch: batch, length: length, rank: rank, steps: steps, dpoPairs: dpoPairs)
        struct Report: Encodable {
            var result: TrainingBenchmark.Result
            var pytorch: [String: Double]?
            var ratio_vs_pytorch: Double?
            var checkpointed: TrainingBenchmark.Result?
            /// Model arithmetic per trained token (StepArithmetic) and the sgemm rate of a
            /// training-shaped product measured in this process.
            var flops_per_token: Double
            var sgemm_gflops: Double
        }
        let arithmetic = StepArithmetic(config: loaded.config, length: length, rank: rank, gradientCheckpointing: false)
        // The layers' largest product in a step: batch x length rows through an MLP projection.
        let gemm = GemmBenchmark.run(m: batch * length, n: loaded.config.intermediateSize, k: loaded.config.hiddenSize, runs: 3)
        var report = Report(result: r, flops_per_token: arithmetic.total, sgemm_gflops: gemm.gflops)
        if gradientCheckpointing {
            report.checkpointed = try TrainingBenchmark.run(loaded: loaded, batch: batch, length: length, rank: rank, steps: steps, dpoPairs: dpoPairs,
                                                            gradientCheckpointing: true)
        }
        if reference {
            let py = try Subprocess.run(["python3", referenceScript, loaded.source.path, "--steps", String(steps), "--batch", String(batch),
                                         "--length", String(length), "--rank", String(rank)])
            guard py.succeeded, let obj = try? JSONSerialization.jsonObject(with: py.stdout) as? [String: Double], let tps = obj["sft_tokens_per_second"] else {
                throw ValidationError("the PyTorch reference failed (exit \(py.status): \(py.stderrTail(1))); it needs python3 with torch, transformers, peft and gguf")
            }
            report.pytorch = obj
            report.ratio_vs_pytorch = r.sft_tokens_per_second / tps
        }
        /// A tokens/s rate as model arithmetic and as a share of the measured sgemm rate.
        func share(_ tokensPerSecond: Double, _ a: StepArithmetic = arithmetic) -> (gflops: Double, percent: Double) {
            let gflops = tokensPerSecond * a.total / 1e9
            return (gflops, 100 * gflops / gemm.gflops)
        }
        if json { try printJSON(report, pretty: true); return }
        print(String(format: "LoRA SFT (rank %d, batch %d x %d): %7.1f tokens/s  (%.2f s/step)", r.lora_rank, r.batch_size, r.sequence_length, r.sft_tokens_per_second, r.sft_seconds_per_step))
        print(String(format: "DPO (%d pairs of %d tokens):       %7.2f pairs/s  (%.2f s/step)", dpoPairs, length, r.dpo_pairs_per_second, r.dpo_seconds_per_step))
        print(String(format: "peak resident memory: %.0f MB", r.peak_resident_megabytes))
        let plain = share(r.sft_tokens_per_second)
        print(String(format: "model arithmetic: %.2f GFLOP per token, %.1f GFLOP/s: %.0f%% of sgemm's %.1f GFLOP/s on %d x %d x %d (same process)",
                     arithmetic.total / 1e9, plain.gflops, plain.percent, gemm.gflops, gemm.m, gemm.n, gemm.k))
        if let c = report.checkpointed {
            let recomputing = StepArithmetic(config: loaded.config, length: length, rank: rank, gradientCheckpointing: true)
            print(String(format: "with gradient checkpointing: %7.1f tokens/s (%.2fx), DPO %.2f pairs/s (%.2fx), peak %.0f MB (%.2fx); %.0f%% of sgemm",
                         c.sft_tokens_per_second, c.sft_tokens_per_second / r.sft_tokens_per_second, c.dpo_pairs_per_second,
                         c.dpo_pairs_per_second / r.dpo_pairs_per_second, c.peak_resident_megabytes, c.peak_resident_megabytes / r.peak_resident_megabytes,
                         share(c.sft_tokens_per_second, recomputing).percent))
        }
        if let p = report.pytorch, let ratio = report.ratio_vs_pytorch {
            let tps = p["sft_tokens_per_second"] ?? 0
            print(String(format: "PyTorch + PEFT: %.1f tokens/s (%.0f MB, %.0f%% of sgemm); saro is %.2fx", tps, p["peak_resident_megabytes"] ?? 0,
                         share(tps).percent, ratio))
        }
    }
}
