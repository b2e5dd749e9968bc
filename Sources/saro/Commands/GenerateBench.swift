import Support
import ArgumentParser
import Foundation
import Tensor
import Models

/// `saro bench generate`: decoding and prefill throughput on a model.
struct GenerateBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Benchmark generation: batch-1 and batched decoding, and prefill.",
        discussion: """
            Decodes --new-tokens tokens after a --prompt-length prompt at batch 1 and at --batch, \
            and prefills a --prefill-length prompt. Batch-1 decoding reads every weight once per \
            token, so its bound (weight bytes per token against this machine's measured read \
            bandwidth) is printed beside it. The batched run is timed twice: as one pass over both \
            cores, and as one lane per core each decoding its part of the batch (what evaluation \
            and data sampling do). With --reference, transformers' generate runs on the \
            same GGUF in python3 and the ratio is printed. With --llama-bench and \
            --llama-batched-bench (paths to llama.cpp's binaries), llama.cpp times the same \
            runs on the same GGUF with saro's thread count, and the ratios are printed.
            """)

    @OptionGroup var modelOptions: ModelOptions
    @Flag(help: "Print JSON.") var json = false
    @Option(help: "Rows of the batched run.") var batch = 16
    @Option(help: "New tokens per run.") var newTokens = 128
    @Option(help: "Prompt tokens before decoding.") var promptLength = 16
    @Option(help: "Prompt tokens of the prefill run.") var prefillLength = 512
    @Flag(help: "Also time transformers' generate (python3 with torch and transformers) on the same model.") var reference = false
    @Option(help: "llama.cpp's llama-bench: also time batch-1 decoding and prefill with llama.cpp (a .gguf model).") var llamaBench: String?
    @Option(help: "llama.cpp's llama-batched-bench: also time decoding --batch sequences at once with llama.cpp (a .gguf model).") var llamaBatchedBench: String?

    func validate() throws {
        for (flag, v) in [("--batch", batch), ("--new-tokens", newTokens), ("--prompt-length", promptLength), ("--prefill-length", prefillLength)] where v < 1 {
            throw ValidationError("\(flag) must be at least 1")
        }
    }

    func run() throws {
        let loaded = try modelOptions.load()
        let model = try modelOptions.makeModel(loaded)
        var r = GenerationBenchmark.run(model: model, promptLength: promptLength, newTokens: newTokens, batch: batch, prefillLength: prefillLength)
        struct Report: Encodable {
            var result: GenerationBenchmark.Result
            var transformers_tokens_per_second: Double?
            var ratio_batch1_vs_transformers: Double?
            var ratio_batched_vs_batch1: Double
            var ratio_lanes_vs_one_pass: Double
            var llama_cpp: LlamaCppReference.Bench?
            var llama_cpp_batched_tokens_per_second: Double?
            var threads = Parallel.threads
        }
        var report = Report(result: r, ratio_batched_vs_batch1: r.decode_batched_tokens_per_second / r.decode_batch1_tokens_per_second,
                            ratio_lanes_vs_one_pass: r.decode_batched_lanes_tokens_per_second / r.decode_batched_tokens_per_second)
        if llamaBench != nil || llamaBatchedBench != nil, loaded.source.pathExtension != "gguf" {
            throw ValidationError("--llama-bench and --llama-batched-bench need a .gguf model; \(loaded.source.path) is not one")
        }
        if let llamaBench {
            report.llama_cpp = try LlamaCppReference.bench(binary: llamaBench, model: loaded.source.path, prefillTokens: prefillLength,
                                                          newTokens: newTokens, threads: Parallel.threads)
        }
        if let llamaBatchedBench {
            report.llama_cpp_batched_tokens_per_second = try LlamaCppReference.batched(binary: llamaBatchedBench, model: loaded.source.path, promptTokens: promptLength,
                                                                                      newTokens: newTokens, batch: batch, threads: Parallel.threads)
        }
        if reference {
            let tps = try TransformersReference.generateTokensPerSecond(model: loaded.source, newTokens: newTokens)
            report.transformers_tokens_per_second = tps
            report.ratio_batch1_vs_transformers = r.decode_batch1_tokens_per_second / tps
        }
        r = report.result
        if json { try printJSON(report, pretty: true); return }
        print(String(format: "decode batch 1:   %7.1f tokens/s  (bound %.1f: %.0f MB of weights per token at %.1f GB/s)",
                     r.decode_batch1_tokens_per_second, r.decode_bound_tokens_per_second, Double(r.weight_bytes_per_token) / 1e6, r.memory_bandwidth_gb_per_second))
        print(String(format: "decode batch %-3d: %7.1f tokens/s  (%.2fx batch 1)", r.batch, r.decode_batched_tokens_per_second, report.ratio_batched_vs_batch1))
        print(String(format: "  in %d lanes:    %7.1f tokens/s  (%.2fx one pass)", r.lanes, r.decode_batched_lanes_tokens_per_second,
                     r.decode_batched_lanes_tokens_per_second / r.decode_batched_tokens_per_second))
        print(String(format: "prefill %d:       %7.1f tokens/s", r.prefill_tokens, r.prefill_tokens_per_second))
        if let l = report.llama_cpp {
            print(String(format: "llama.cpp%@, %d threads: decode batch 1 %.1f tokens/s (saro %.2fx)", l.build_commit.map { " " + $0 } ?? "", report.threads,
                         l.decode_tokens_per_second, r.decode_batch1_tokens_per_second / l.decode_tokens_per_second))
            if let p = l.prefill_tokens_per_second {
                print(String(format: "  prefill %d: %.1f tokens/s (saro %.2fx)", r.prefill_tokens, p, r.prefill_tokens_per_second / p))
            }
        }
        if let b = report.llama_cpp_batched_tokens_per_second {
            print(String(format: "llama.cpp batched, %d sequences: %.1f tokens/s (saro %.2fx in one pass, %.2fx in lanes)", r.batch, b,
                         r.decode_batched_tokens_per_second / b, r.decode_batched_lanes_tokens_per_second / b))
        }
        if let t = report.transformers_tokens_per_second, let ratio = report.ratio_batch1_vs_transformers {
            print(String(format: "transformers generate: %.1f tokens/s; saro batch 1 is %.2fx", t, ratio))
        }
    }
}

/// transformers' `generate` on the same model file, timed in a python3 subprocess.
enum TransformersReference {
    static let script = """
        import os, sys, time, torch
        from transformers import AutoModelForCausalLM
        path, new = sys.argv[1], int(sys.argv[2])
        folder, name = os.path.split(path)
        kw = {"gguf_file": name} if name.endswith(".gguf") else {}
        model = AutoModelForCausalLM.from_pretrained(folder if kw else path, torch_dtype=torch.float32, **kw).eval()
        ids = torch.randint(0, model.config.vocab_size, (1, 16))
        with torch.no_grad():
            model.generate(ids, max_new_tokens=8, do_sample=False, min_new_tokens=8)
            t = time.perf_counter()
            out = model.generate(ids, max_new_tokens=new, min_new_tokens=new, do_sample=False)
            dt = time.perf_counter() - t
        print((out.shape[1] - ids.shape[1]) / dt)
        """

    static func generateTokensPerSecond(model: URL, newTokens: Int) throws -> Double {
        let r = try Subprocess.run(["python3", "-c", script, model.path, String(newTokens)])
        guard r.succeeded, let v = Double(r.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").last ?? "") else {
            throw ValidationError("the transformers reference failed (exit \(r.status): \(r.stderrTail(1))); it needs python3 with torch, transformers, gguf and accelerate")
        }
        return v
    }
}
