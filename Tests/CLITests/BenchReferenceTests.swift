import Foundation
import Testing

/// `saro bench generate` with llama.cpp as its reference: the binaries are called with the same
/// GGUF, thread count and sizes, their JSON and JSONL outputs read, and the ratios reported.
/// Stand-ins print what llama-bench and llama-batched-bench print (their formats, with fixed
/// numbers) and record the arguments they were given.
@Suite(.tags(.process)) struct BenchReferenceTests {
    static func script(_ dir: URL, _ name: String, _ body: String) throws -> String {
        let url = dir.appendingPathComponent(name)
        try Data(("#!/bin/sh\necho \"$@\" > \"\(url.path).args\"\n" + body).utf8).write(to: url)
        chmod(url.path, 0o755)
        return url.path
    }

    @Test func llamaCppBinariesAreTheReference() throws {
        let dir = TrainResumeTests.work("llama-cpp-reference")
        let bench = try Self.script(dir, "llama-bench", """
            cat <<'EOF'
            [
              {"build_commit": "abc1234", "n_threads": 2, "n_prompt": 8, "n_gen": 0, "avg_ts": 500.5, "stddev_ts": 3.1},
              {"build_commit": "abc1234", "n_threads": 2, "n_prompt": 0, "n_gen": 4, "avg_ts": 200.0, "stddev_ts": 1.2}
            ]
            EOF
            """)
        let batched = try Self.script(dir, "llama-batched-bench", """
            echo "llama_model_loader: loaded meta data" >&2
            echo '{"n_kv_max": 64, "n_batch": 2048, "n_ubatch": 512, "flash_attn": 0, "is_pp_shared": 0, "n_gpu_layers": 0, "n_threads": 2, "n_threads_batch": 2, "pp": 4, "tg": 4, "pl": 2, "n_kv": 16, "t_pp": 0.01, "speed_pp": 800.0, "t_tg": 0.02, "speed_tg": 400.0, "t": 0.03, "speed": 533.3}'
            """)
        let r = try CLITests.saro(["bench", "generate", "--json", "--new-tokens", "4", "--batch", "2", "--prompt-length", "4", "--prefill-length", "8",
                                   "--llama-bench", bench, "--llama-batched-bench", batched])
        #expect(r.status == 0, "\(r.err)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
        let llama = try #require(report["llama_cpp"] as? [String: Any])
        #expect(llama["decode_tokens_per_second"] as? Double == 200 && llama["prefill_tokens_per_second"] as? Double == 500.5)
        #expect(llama["build_commit"] as? String == "abc1234")
        #expect(report["llama_cpp_batched_tokens_per_second"] as? Double == 400)
        let threads = try #require(report["threads"] as? Int)
        let benchArgs = try String(contentsOfFile: bench + ".args", encoding: .utf8)
        #expect(benchArgs.contains(".gguf -p 8 -n 4 -t \(threads) ") && benchArgs.contains("-o json"), "\(benchArgs)")
        let batchedArgs = try String(contentsOfFile: batched + ".args", encoding: .utf8)
        #expect(batchedArgs.contains("-npp 4 -ntg 4 -npl 2 -t \(threads) --output-format jsonl"), "\(batchedArgs)")

        // Output that is not llama-bench's JSON is a clear error naming the binary.
        let broken = try Self.script(dir, "broken-bench", "echo 'not json'")
        let b = try CLITests.saro(["bench", "generate", "--new-tokens", "2", "--batch", "1", "--prompt-length", "2", "--prefill-length", "4", "--llama-bench", broken])
        #expect(b.status == 1 && b.err.contains(broken) && b.err.contains("llama-bench's JSON"), "\(b.err)")
    }

    /// `saro bench train` gives its rate as model arithmetic beside sgemm's, measured in the same
    /// process. The tiny model's step by hand (hidden 32, MLP 64, 3 layers, 4 heads of 8, 2 kv
    /// heads, rank 16, length 16): projections P = 3 x 9,216; attention 4 x 32 x 8.5 keys x 3 layers
    /// = 3,264 forward; LoRA 2 x 16 x 512 x 3 = 49,152 forward; the head 2 x vocab x 32 each way.
    /// Forward + backward = 4P + 3 x 3,264 + 3 x 49,152 + 128 vocab.
    @Test func trainBenchSetsItsRateBesideSgemm() throws {
        let root = TrainResumeTests.work("bench-train")
        let model = try EvalReportTests.tinyModel(root, "tiny", seed: 3)
        let config = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: model + "/config.json"))) as? [String: Any])
        let vocab = try #require(config["vocab_size"] as? Int)
        let args = ["bench", "train", "--model", model, "--batch", "2", "--length", "16", "--steps", "1", "--dpo-pairs", "1"]
        let r = try CLITests.saro(args + ["--json"])
        #expect(r.status == 0, "\(r.err)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
        #expect(report["flops_per_token"] as? Double == Double(4 * 27_648 + 3 * 3_264 + 3 * 49_152 + 128 * vocab))
        #expect((report["sgemm_gflops"] as? Double ?? 0) > 0)
        let text = try CLITests.saro(args)
        #expect(text.status == 0 && text.out.contains("model arithmetic:") && text.out.contains("% of sgemm's"), "\(text.out)")
    }
}
