import Foundation
import Models
import Testing

/// Corrupted inputs, each run through the real binary in a process of its own: saro must exit
/// with status 1 and a message, never die on a signal (a Swift trap is SIGILL or SIGTRAP, an
/// allocation failure SIGABRT). The cases are made here from a tiny Hugging Face model folder
/// and from the default GGUF: header fields, sizes, counts, ids, offsets and bit flips.
@Suite(.serialized, .tags(.process)) struct CorruptInputTests {
    static func run(_ args: [String]) throws -> CLITests.Run { try CLITests.saro(args) }

    /// A clean failure: exit status 1, no signal, and an error message that contains `mention`.
    static func expectCleanFailure(_ o: CLITests.Run, mentioning mention: String, _ label: String) {
        #expect(!o.signalled, "\(label): killed by signal \(o.status); stderr: \(o.err.suffix(400))")
        #expect(o.status == 1, "\(label): exit \(o.status); stderr: \(o.err.suffix(400))")
        #expect(o.err.contains("Error:") && o.err.contains(mention), "\(label): message \(o.err.suffix(400))")
    }

    static let root = TrainResumeTests.work("corrupt")

    /// A tiny model folder (config.json, model.safetensors, tokenizer.json) from `saro model init`.
    static let tinyModel: URL = {
        let model = root.appendingPathComponent("tiny")
        let tokenizer = TrainResumeTests.repo.appendingPathComponent("Tests/ModelsTests/Golden/tokenizers/gpt2").path
        _ = try? CLITests.saro(["model", "init", "--tokenizer-from", tokenizer, "--hidden-size", "32", "--intermediate-size", "64",
                                "--layers", "2", "--heads", "4", "--kv-heads", "2", "--std", "0.1", "--seed", "1", "--out", model.path])
        return model
    }()

    /// A copy of the tiny model with `edit` applied to one of its files.
    static func variant(_ name: String, file: String, _ edit: (inout Data) throws -> Void) throws -> URL {
        let dir = root.appendingPathComponent(name)
        try? FileManager.default.removeItem(at: dir)
        try FileManager.default.copyItem(at: tinyModel, to: dir)
        let url = dir.appendingPathComponent(file)
        var data = try Data(contentsOf: url)
        try edit(&data)
        try data.write(to: url)
        return dir
    }

    static func editJSON(_ data: inout Data, _ edit: (inout [String: Any]) -> Void) throws {
        var obj = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        edit(&obj)
        data = try JSONSerialization.data(withJSONObject: obj)
    }

    @Test(arguments: [
        ("num_attention_heads", 0 as Int64), ("num_key_value_heads", 0), ("num_key_value_heads", 3), ("num_hidden_layers", -1),
        ("num_hidden_layers", 1_000_000_000_000), ("vocab_size", -3), ("hidden_size", 0), ("head_dim", 7),
        ("max_position_embeddings", 0), ("intermediate_size", -64), ("vocab_size", 10),
    ])
    func configFields(field: String, value: Int64) throws {
        let dir = try Self.variant("config-\(field)-\(value)", file: "config.json") { try Self.editJSON(&$0) { $0[field] = value } }
        // vocab_size 10 is valid on its own: the tokenizer's ids then fall outside the embedding.
        let mention = field == "vocab_size" && value == 10 ? "embedding" : field
        Self.expectCleanFailure(try Self.run(["score", "--model", dir.path, "hello"]), mentioning: mention, "\(field) = \(value)")
    }

    /// safetensors: the 8-byte header length, then the JSON header with each tensor's shape and offsets.
    static func editSafetensorsHeader(_ data: inout Data, _ edit: (inout [String: Any]) -> Void) throws {
        let n = Int(data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        var header = try #require(try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + n))) as? [String: Any])
        edit(&header)
        var json = try JSONSerialization.data(withJSONObject: header)
        json.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8))
        var out = Data()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(json)
        out.append(data.subdata(in: (8 + n)..<data.count))
        data = out
    }

    @Test func safetensorsSizesAndOffsets() throws {
        let name = "model.embed_tokens.weight"
        let cases: [(String, (inout [String: Any]) -> Void, String)] = [
            ("huge-shape", { h in var t = h[name] as! [String: Any]; t["shape"] = [1 << 40, 1 << 40]; h[name] = t }, name),
            ("negative-shape", { h in var t = h[name] as! [String: Any]; t["shape"] = [-4, 32]; h[name] = t }, name),
            ("offset-past-end", { h in var t = h[name] as! [String: Any]; t["data_offsets"] = [0, 1 << 50]; h[name] = t }, name),
            ("reversed-offsets", { h in var t = h[name] as! [String: Any]; t["data_offsets"] = [64, 0]; h[name] = t }, name),
            ("bad-dtype", { h in var t = h[name] as! [String: Any]; t["dtype"] = "Q9"; h[name] = t }, name),
        ]
        for (label, edit, mention) in cases {
            let dir = try Self.variant("st-\(label)", file: "model.safetensors") { try Self.editSafetensorsHeader(&$0, edit) }
            Self.expectCleanFailure(try Self.run(["score", "--model", dir.path, "hello"]), mentioning: mention, label)
        }
        let huge = try Self.variant("st-header-length", file: "model.safetensors") { d in
            withUnsafeBytes(of: UInt64(1 << 60).littleEndian) { d.replaceSubrange(0..<8, with: $0) }
        }
        Self.expectCleanFailure(try Self.run(["score", "--model", huge.path, "hello"]), mentioning: "model.safetensors", "header length")
        let truncated = try Self.variant("st-truncated", file: "model.safetensors") { d in d = d.prefix(d.count / 2) }
        Self.expectCleanFailure(try Self.run(["score", "--model", truncated.path, "hello"]), mentioning: "model.safetensors", "truncated")
    }

    @Test func tokenizerIds() throws {
        let cases: [(String, (inout [String: Any]) -> Void)] = [
            ("added-negative", { t in t["added_tokens"] = [["id": -5, "content": "<x>", "special": true]] }),
            ("vocab-huge-id", { t in var m = t["model"] as! [String: Any]; var v = m["vocab"] as! [String: Any]; v["zzz"] = 1_000_000_000; m["vocab"] = v; t["model"] = m }),
        ]
        for (label, edit) in cases {
            let dir = try Self.variant("tok-\(label)", file: "tokenizer.json") { try Self.editJSON(&$0, edit) }
            Self.expectCleanFailure(try Self.run(["tokenize", "--model", dir.path, "hello"]), mentioning: "id", label)
        }
    }

    // MARK: the default GGUF

    static let gguf: Data = {
        (try? Data(contentsOf: ModelStore.fetch(ModelStore.defaultModel))) ?? Data()
    }()

    /// The byte offset of a metadata value: after the key's length, the key and the value type.
    static func metadataValueOffset(_ key: String, type: UInt32) throws -> Int {
        var needle = Data()
        withUnsafeBytes(of: UInt64(key.utf8.count).littleEndian) { needle.append(contentsOf: $0) }
        needle.append(contentsOf: Array(key.utf8))
        withUnsafeBytes(of: type.littleEndian) { needle.append(contentsOf: $0) }
        let range = try #require(gguf.range(of: needle), "\(key) with type \(type) is in the default GGUF")
        return range.upperBound
    }

    static func writeGGUF(_ name: String, _ edit: (inout Data) throws -> Void) throws -> URL {
        var d = gguf
        try edit(&d)
        let url = root.appendingPathComponent(name + ".gguf")
        try d.write(to: url)
        return url
    }

    static func patch<T: FixedWidthInteger>(_ d: inout Data, at offset: Int, _ value: T) {
        withUnsafeBytes(of: value.littleEndian) { d.replaceSubrange(offset..<(offset + MemoryLayout<T>.size), with: $0) }
    }

    @Test(arguments: [
        ("llama.attention.head_count", 0 as UInt32), ("llama.attention.head_count_kv", 0), ("llama.context_length", 0),
        ("llama.block_count", UInt32.max), ("llama.embedding_length", 0), ("llama.attention.head_count_kv", 4),
    ])
    func ggufMetadataFields(key: String, value: UInt32) throws {
        let offset = try Self.metadataValueOffset(key, type: 4 /* u32 */)
        let url = try Self.writeGGUF("meta-\(key)-\(value)") { Self.patch(&$0, at: offset, value) }
        let o = try Self.run(["generate", "--model", url.path, "--max-tokens", "2", "hi"])
        Self.expectCleanFailure(o, mentioning: key, "\(key) = \(value)")
        try? FileManager.default.removeItem(at: url)
    }

    @Test func ggufCountsAndTensorInfos() throws {
        // Header: magic, version (u32), tensor count (u64) at 8, metadata count (u64) at 16.
        let cases: [(String, (inout Data) throws -> Void, String)] = [
            ("tensor-count", { Self.patch(&$0, at: 8, UInt64(1) << 40) }, "tensor count"),
            ("metadata-count", { Self.patch(&$0, at: 16, UInt64.max) }, "metadata count"),
            ("bos-id", { d in Self.patch(&d, at: try Self.metadataValueOffset("tokenizer.ggml.bos_token_id", type: 4), UInt32(1_000_000_000)) }, "bos"),
            ("dims", { d in
                // token_embd.weight's info: name, n_dims (u32), dims (u64 each), type, offset.
                let at = try #require(d.range(of: Data("token_embd.weight".utf8), options: [], in: 24..<d.count)).upperBound
                Self.patch(&d, at: at + 4, UInt64(1) << 30); Self.patch(&d, at: at + 12, UInt64(1) << 30)
            }, "token_embd.weight"),
            ("offset", { d in
                let at = try #require(d.range(of: Data("token_embd.weight".utf8), options: [], in: 24..<d.count)).upperBound
                Self.patch(&d, at: at + 4 + 16 + 4, UInt64(1) << 33)
            }, "token_embd.weight"),
        ]
        for (label, edit, mention) in cases {
            let url = try Self.writeGGUF("gguf-\(label)", edit)
            Self.expectCleanFailure(try Self.run(["generate", "--model", url.path, "--max-tokens", "2", "hi"]), mentioning: mention, label)
            try? FileManager.default.removeItem(at: url)
        }
    }

    /// Random bit flips in the header (metadata and tensor infos): whatever they hit, saro
    /// either runs or fails with a message; it never dies on a signal.
    @Test func ggufHeaderBitFlips() throws {
        var state: UInt64 = 0x5EED
        func next() -> UInt64 { state = state &* 6364136223846793005 &+ 1442695040888963407; return state >> 33 }
        let headerEnd = 1_700_000   // metadata (the tokenizer's 49,152 tokens and merges) and tensor infos
        for i in 0..<8 {
            let url = try Self.writeGGUF("flip-\(i)") { d in
                for _ in 0..<4 {
                    let at = Int(next() % UInt64(headerEnd)), bit = UInt8(1) << UInt8(next() % 8)
                    d[at] ^= bit
                }
            }
            let o = try Self.run(["generate", "--model", url.path, "--max-tokens", "1", "--greedy", "hi"])
            #expect(!o.signalled, "flip \(i): killed by signal \(o.status); stderr: \(o.err.suffix(400))")
            if o.status != 0 { #expect(o.err.contains("Error:"), "flip \(i): exit \(o.status) without a message: \(o.err.suffix(400))") }
            try? FileManager.default.removeItem(at: url)
        }
    }

    /// A prompt that with --max-tokens exceeds the context names the limit; with --file, the
    /// line, before anything is generated.
    @Test func generationPastTheContext() throws {
        let o = try Self.run(["generate", "--model", Self.tinyModel.path, "--max-tokens", "5000", "hello"])
        Self.expectCleanFailure(o, mentioning: "context", "prompt + max tokens")
        let file = Self.root.appendingPathComponent("prompts.jsonl")
        try Data("{\"prompt\": \"short\"}\n{\"prompt\": \"\(String(repeating: "word ", count: 3000))\"}\n".utf8).write(to: file)
        let out = Self.root.appendingPathComponent("answers.jsonl")
        let f = try Self.run(["generate", "--model", Self.tinyModel.path, "--max-tokens", "8", "--file", file.path, "--output", out.path])
        Self.expectCleanFailure(f, mentioning: "prompts.jsonl:2", "long line")
        #expect(!FileManager.default.fileExists(atPath: out.path))
    }

    @Test func flagsOutOfRange() throws {
        for (args, mention) in [(["serve", "--max-batch", "0"], "--max-batch"), (["serve", "--port", "99999"], "--port"),
                                (["generate", "--top-k", "-3", "hi"], "--top-k"), (["generate", "--temperature", "nan", "hi"], "--temperature"),
                                (["train", "sft", "--lr", "nan", "--data", "x", "--out", "y"], "lr"),
                                (["model", "init", "--tokenizer-from", "x", "--heads", "0", "--out", "y"], "--heads")] {
            let o = try Self.run(args)
            #expect(!o.signalled && o.status != 0 && o.err.contains(mention), "\(args): exit \(o.status) \(o.err.suffix(300))")
        }
    }

    @Test func suiteWithANegativeLimit() throws {
        let suite = Self.root.appendingPathComponent("bad-suite.yaml")
        try Data("name: bad\nmax_tokens: 8\nbenchmarks:\n  - {name: harmbench, limit: -5}\n".utf8).write(to: suite)
        let o = try Self.run(["eval", "--model", Self.tinyModel.path, "--suite", suite.path, "--out", Self.root.appendingPathComponent("e").path])
        Self.expectCleanFailure(o, mentioning: "bad-suite.yaml:4", "limit -5")
        let broken = Self.root.appendingPathComponent("broken-suite.yaml")
        try Data("name: bad\nbenchmarks: [ {name: harmbench\n".utf8).write(to: broken)
        let b = try Self.run(["eval", "--model", Self.tinyModel.path, "--suite", broken.path, "--out", Self.root.appendingPathComponent("e2").path])
        Self.expectCleanFailure(b, mentioning: "broken-suite.yaml", "YAML syntax")
    }

    @Test func dataFilesThatAreNotUTF8() throws {
        let bad = Self.root.appendingPathComponent("bad-utf8.jsonl")
        var bytes = Data("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"ok\"}]}\n".utf8)
        bytes.append(contentsOf: Array("{\"prompt\": \"caf".utf8) + [0xE9] + Array("\", \"completion\": \"x\"}\n".utf8))
        try bytes.write(to: bad)
        let train = try Self.run(["train", "sft", "--model", Self.tinyModel.path, "--data", bad.path, "--out", Self.root.appendingPathComponent("t").path, "--quiet"])
        Self.expectCleanFailure(train, mentioning: "bad-utf8.jsonl:2: not valid UTF-8", "JSONL")
        let csv = Self.root.appendingPathComponent("bad-seeds.csv")
        try (Data("prompt\nhow do I bake bread\n".utf8) + Data([0xFF, 0xFE]) + Data("\n".utf8)).write(to: csv)
        let suite = Self.root.appendingPathComponent("csv-suite.yaml")
        try Data("name: csv\nmax_tokens: 4\nbenchmarks:\n  - {name: harmful, source: \"file:\(csv.path)\"}\n".utf8).write(to: suite)
        let eval = try Self.run(["eval", "--model", Self.tinyModel.path, "--suite", suite.path, "--out", Self.root.appendingPathComponent("csv-eval").path, "--quiet"])
        Self.expectCleanFailure(eval, mentioning: "bad-seeds.csv:3: not valid UTF-8", "CSV")
    }

    /// An evaluation that fails before its first result leaves no job store (and no folder) behind.
    @Test func aFailedEvaluationLeavesNoEmptyStore() throws {
        let out = Self.root.appendingPathComponent("failed-eval")
        try? FileManager.default.removeItem(at: out)
        let o = try Self.run(["eval", "--model", Self.tinyModel.path, "--suite", "quick", "--judge", "llama-guard", "--out", out.path, "--quiet"])
        #expect(!o.signalled && o.status != 0, "\(o.err)")
        #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("eval.sqlite").path))
        #expect(!FileManager.default.fileExists(atPath: out.path))
    }

    /// Training into a folder that holds another run's checkpoints, without --resume, is refused.
    @Test func trainingIntoAnotherRunsFolder() throws {
        let data = Self.root.appendingPathComponent("sft.jsonl")
        let line = "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"hello there\"}]}\n"
        try Data(String(repeating: line, count: 4).utf8).write(to: data)
        let out = Self.root.appendingPathComponent("occupied")
        try? FileManager.default.removeItem(at: out)
        let args = ["train", "sft", "--model", Self.tinyModel.path, "--data", data.path, "--out", out.path, "--max-steps", "2", "--batch-size", "2",
                    "--save-steps", "1", "--quiet"]
        let first = try Self.run(args)
        #expect(first.status == 0, "\(first.err)")
        Self.expectCleanFailure(try Self.run(args), mentioning: "--resume", "second run into the same folder")
        #expect(try Self.run(args + ["--resume"]).status == 0)
    }

    @Test func safetensorsIndexThatLeavesTheFolder() throws {
        let dir = try Self.variant("index-escape", file: "config.json") { _ in }
        let index = #"{"weight_map": {"model.embed_tokens.weight": "../other/model.safetensors"}}"#
        try Data(index.utf8).write(to: dir.appendingPathComponent("model.safetensors.index.json"))
        Self.expectCleanFailure(try Self.run(["score", "--model", dir.path, "hello"]), mentioning: "../other/model.safetensors", "index path")
    }
}
