import Support
import Foundation

/// llama.cpp's own benchmarks on the same GGUF and thread count, as a reference for
/// `saro bench generate`: `llama-bench` (batch-1 decoding, `tg`, and prefill, `pp`) with its
/// JSON output, and `llama-batched-bench` (several sequences decoded at once) with its JSONL.
enum LlamaCppReference {
    struct Bench: Encodable, Equatable {
        var decode_tokens_per_second: Double
        var prefill_tokens_per_second: Double?
        var build_commit: String?
    }

    /// Runs llama-bench: `newTokens` generated after no prompt (its `tg` test) and a
    /// `prefillTokens` prompt (`pp`), three repetitions each.
    static func bench(binary: String, model: String, prefillTokens: Int, newTokens: Int, threads: Int) throws -> Bench {
        let r = try run([binary, "-m", model, "-p", String(prefillTokens), "-n", String(newTokens), "-t", String(threads), "-r", "3", "-o", "json"], what: "llama-bench")
        return try parseBench(r.stdout, source: binary)
    }

    /// llama-bench's JSON: an array of tests with n_prompt, n_gen and avg_ts (tokens/s).
    static func parseBench(_ data: Data, source: String) throws -> Bench {
        struct Test: Decodable { let n_prompt: Int; let n_gen: Int; let avg_ts: Double; let build_commit: String? }
        let tests: [Test]
        do { tests = try JSONDecoder().decode([Test].self, from: data) } catch let e as DecodingError {
            throw CommandError("\(source): its output is not llama-bench's JSON (-o json): \(DecodingErrorText.describe(e))")
        }
        guard let decode = tests.first(where: { $0.n_gen > 0 && $0.n_prompt == 0 }) else {
            throw CommandError("\(source): no text-generation test (n_prompt 0, n_gen > 0) in its output")
        }
        return Bench(decode_tokens_per_second: decode.avg_ts, prefill_tokens_per_second: tests.first { $0.n_prompt > 0 && $0.n_gen == 0 }?.avg_ts,
                     build_commit: decode.build_commit)
    }

    /// Runs llama-batched-bench: `batch` sequences of `promptTokens` prompt tokens each, then
    /// `newTokens` decoded for all of them at once; returns the decoding rate over all sequences.
    static func batched(binary: String, model: String, promptTokens: Int, newTokens: Int, batch: Int, threads: Int) throws -> Double {
        let context = batch * (promptTokens + newTokens) + 16
        let r = try run([binary, "-m", model, "-c", String(context), "-b", "2048", "-ub", "512", "-npp", String(promptTokens), "-ntg", String(newTokens),
                         "-npl", String(batch), "-t", String(threads), "--output-format", "jsonl"], what: "llama-batched-bench")
        return try parseBatched(String(decoding: r.stdout + r.stderr, as: UTF8.self), batch: batch, source: binary)
    }

    /// The JSONL line for `batch` sequences (pl), its speed_tg: decoded tokens per second, all
    /// sequences together. Other lines (llama.cpp's log) are skipped.
    static func parseBatched(_ output: String, batch: Int, source: String) throws -> Double {
        struct Row: Decodable { let pl: Int; let speed_tg: Double }
        for line in output.split(whereSeparator: \.isNewline) where line.hasPrefix("{") {
            if let row = try? JSONDecoder().decode(Row.self, from: Data(line.utf8)), row.pl == batch { return row.speed_tg }
        }
        throw CommandError("\(source): no result for \(batch) sequences in its output (llama-batched-bench --output-format jsonl)")
    }

    private static func run(_ arguments: [String], what: String) throws -> Subprocess.Output {
        let r: Subprocess.Output
        do { r = try Subprocess.run(arguments) } catch { throw CommandError("\(arguments[0]): cannot run \(what): \(error)") }
        guard r.succeeded else { throw CommandError("\(arguments[0]) failed (exit \(r.status)): \(r.stderrTail(3))") }
        return r
    }
}
