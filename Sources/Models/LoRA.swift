import CSupport
import Support
import Foundation
import Tensor

/// Low-rank adapters (LoRA, Hu et al. 2021) in PEFT's convention: for a frozen projection W
/// [out, in], y = x W^T + (alpha / r) * dropout(x) A^T B^T with A [r, in] initialised like
/// PEFT (Kaiming-uniform, bound 1 / sqrt(in)) and B [out, r] zero, so training starts from the
/// base model exactly.
public struct LoRAConfig: Codable, Sendable, Equatable {
    public var rank: Int
    public var alpha: Double
    public var dropout: Double
    /// Module names as PEFT spells them (Llama: q_proj, k_proj, v_proj, o_proj, gate_proj,
    /// up_proj, down_proj), or "all-linear" (PEFT's word for every projection of the model).
    public var targetModules: [String]

    public static let allLinear = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]

    /// The target modules as `architecture` names its projections: "all-linear" is all of
    /// them; a module that is part of a fused one (Phi-3's q_proj in qkv_proj) is that one.
    public func resolvedTargets(_ architecture: any DecoderArchitecture) throws -> [String] {
        var out: [String] = []
        for name in targetModules {
            let modules = name == "all-linear" ? architecture.linearModules : [architecture.fusedModules[name] ?? name]
            for m in modules where !out.contains(m) {
                guard architecture.linearModules.contains(m) else {
                    throw ModelError.unknownModule("LoRA target module '\(name)' is not a projection of this model (\(architecture.linearModules.joined(separator: ", ")), or all-linear)")
                }
                out.append(m)
            }
        }
        return out
    }

    public init(rank: Int = 16, alpha: Double = 32, dropout: Double = 0.05, targetModules: [String] = LoRAConfig.allLinear) {
        self.rank = rank; self.alpha = alpha; self.dropout = dropout; self.targetModules = targetModules
    }

    public var scale: Float { Float(alpha / Double(rank)) }
}

public final class LoRAAdapters {
    public let config: LoRAConfig
    /// Module path ("model.layers.3.self_attn.q_proj") -> (A [r, in], B [out, r]).
    public private(set) var modules: [String: (a: Variable, b: Variable)] = [:]
    /// Adapters off: the base model (DPO's reference policy).
    public var enabled = true
    /// Dropout masks; part of a checkpoint so a resumed run draws the same ones.
    public var rng: SplitMix64
    /// B^T [rank, out] of each module, the layout the decoding update reads; made on first use
    /// and dropped whenever B may change (a forward pass with gradients, `load`).
    private var transposedB: [String: Tensor] = [:]
    private let transposedLock = NSLock()

    /// New adapters for every targeted projection of `model`; `config`'s target modules are
    /// kept as the model's architecture names them (what PEFT's adapter_config.json needs).
    public init(config: LoRAConfig, model: LlamaModel, seed: UInt64) throws {
        var config = config
        config.targetModules = try config.resolvedTargets(model.config.architecture)
        self.config = config
        rng = SplitMix64(seed: seed ^ 0x4C6F_5241)
        var initRNG = SplitMix64(seed: seed)
        for (name, shape) in LlamaModel.expectedShapes(model.config) where name.hasSuffix(".weight") && shape.count == 2 {
            let path = String(name.dropLast(".weight".count))
            guard let module = path.split(separator: ".").last, config.targetModules.contains(String(module)) else { continue }
            let bound = 1 / Float(shape[1]).squareRoot()
            let a = Tensor.uniform([config.rank, shape[1]], low: -bound, high: bound, rng: &initRNG)
            modules[path] = (Variable(a, requiresGrad: true, name: path + ".lora_A.weight"),
                             Variable(Tensor(zeros: [shape[0], config.rank]), requiresGrad: true, name: path + ".lora_B.weight"))
        }
    }

    /// Adapters over the given module variables (`replica`).
    init(config: LoRAConfig, modules: [String: (a: Variable, b: Variable)], rng: SplitMix64, enabled: Bool) {
        self.config = config; self.modules = modules; self.rng = rng; self.enabled = enabled
    }

    /// Trainable parameters by PEFT key.
    public var parameters: [String: Variable] {
        var out: [String: Variable] = [:]
        for (path, m) in modules {
            out[LoRAAdapters.peftKey(path, "lora_A")] = m.a
            out[LoRAAdapters.peftKey(path, "lora_B")] = m.b
        }
        return out
    }

    /// PEFT's key in adapter_model.safetensors: base_model.model.<path>.lora_A.weight.
    public static func peftKey(_ path: String, _ which: String) -> String { "base_model.model.\(path).\(which).weight" }

    /// The adapted projection of x for module `path` (nil when it has no adapter or adapters
    /// are off): the base projection plus scale * dropout(x) A^T B^T, fused in one op.
    func apply(_ x: Variable, path: String, weight: Variable, bias: Variable?) -> Variable? {
        guard enabled, let m = modules[path] else { return nil }
        if GradMode.isEnabled { dropTransposedB() }
        let adapterInput = GradMode.isEnabled && config.dropout > 0 ? Ops.dropout(x, p: Float(config.dropout), rng: &rng) : nil
        return Ops.loraLinear(x, weight: weight, bias: bias, a: m.a, b: m.b, scale: config.scale, adapterInput: adapterInput)
    }

    /// The adapter's contribution alone, for inference on top of a quantized base projection.
    /// Adds the module's update for the rows x [n, in] into y [n, out] (contiguous) in place
    /// (decoding, no gradients): one C pass per core instead of two BLAS calls and two
    /// temporaries, which at batch 1 cost more than the base product itself. Nothing when the
    /// module has no adapter or the adapters are off.
    func addDelta(_ x: Tensor, path: String, into y: Tensor) {
        guard enabled, let m = modules[path] else { return }
        precondition(y.isContiguous, "LoRA update of \(path) into a strided tensor")
        let a = m.a.value.contiguous(), bt = transposedB(path, m.b), xc = x.contiguous()
        let (rank, k, outputs) = (a.shape[0], a.shape[1], bt.shape[1])
        let rows = xc.count / k, scale = config.scale
        precondition(y.count == rows * outputs, "LoRA update of \(path): \(rows) rows into \(y.shape)")
        Parallel.forRanges(outputs, minPerThread: 64, lowLatency: true) { r in
            let status = saro_lora_rows(xc.data, k, rows, k, a.data, rank, bt.data, outputs, scale, y.data, outputs, r.lowerBound, r.upperBound)
            precondition(status == 0, "LoRA update of \(path): out of memory")
        }
    }

    private func transposedB(_ path: String, _ b: Variable) -> Tensor {
        transposedLock.lock(); defer { transposedLock.unlock() }
        if let t = transposedB[path] { return t }
        let t = b.value.transposed().contiguous()
        transposedB[path] = t
        return t
    }

    private func dropTransposedB() {
        transposedLock.lock(); defer { transposedLock.unlock() }
        if !transposedB.isEmpty { transposedB = [:] }
    }

    // MARK: PEFT files

    /// adapter_config.json as PEFT writes it.
    public func adapterConfigJSON(baseModel: String) throws -> Data {
        let obj: [String: Any] = [
            "peft_type": "LORA", "task_type": "CAUSAL_LM", "r": config.rank, "lora_alpha": config.alpha,
            "lora_dropout": config.dropout, "target_modules": config.targetModules, "bias": "none",
            "fan_in_fan_out": false, "inference_mode": true, "base_model_name_or_path": baseModel,
            "modules_to_save": NSNull(), "use_rslora": false, "use_dora": false, "init_lora_weights": true,
        ]
        return try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys, .prettyPrinted])
    }

    /// Writes adapter_config.json and adapter_model.safetensors into `directory`.
    public func save(to directory: URL, baseModel: String) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try SafeTensorsFile.write(parameters.mapValues(\.value), to: directory.appendingPathComponent("adapter_model.safetensors").path)
        try AtomicFile.write(try adapterConfigJSON(baseModel: baseModel), to: directory.appendingPathComponent("adapter_config.json").path)
    }

    /// Loads adapters saved by saro or PEFT into this (matching) set of modules.
    public func load(from directory: URL) throws {
        let file = try SafeTensorsFile(path: directory.appendingPathComponent("adapter_model.safetensors").path)
        dropTransposedB()
        for (path, m) in modules {
            for (which, v) in [("lora_A", m.a), ("lora_B", m.b)] {
                let t = try file.tensor(LoRAAdapters.peftKey(path, which))
                guard t.shape == v.value.shape else {
                    throw ModelError.wrongShape(name: LoRAAdapters.peftKey(path, which), expected: v.value.shape, found: t.shape)
                }
                v.value.copyElements(from: t)
            }
        }
    }

    /// Reads adapter_config.json (saro's or PEFT's).
    public static func readConfig(_ directory: URL) throws -> LoRAConfig {
        let url = directory.appendingPathComponent("adapter_config.json")
        guard let data = try? Data(contentsOf: url), let obj = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ModelStoreError.invalid(path: url.path, reason: "missing or not a JSON object")
        }
        guard obj["peft_type"] as? String == "LORA", let r = obj["r"] as? Int else {
            throw ModelStoreError.invalid(path: url.path, reason: "not a LoRA adapter config (peft_type LORA with r)")
        }
        let targets: [String]
        if let list = obj["target_modules"] as? [String] { targets = list } else if obj["target_modules"] as? String == "all-linear" { targets = ["all-linear"] } else {
            throw ModelStoreError.invalid(path: url.path, reason: "target_modules must be a list of module names")
        }
        return LoRAConfig(rank: r, alpha: (obj["lora_alpha"] as? NSNumber)?.doubleValue ?? Double(r), dropout: (obj["lora_dropout"] as? NSNumber)?.doubleValue ?? 0, targetModules: targets)
    }

    /// Folds the adapters into the base weights: W + scale * B A (what `saro merge` saves).
    public func merged(into weights: [String: Tensor]) -> [String: Tensor] {
        var out = weights
        for (path, m) in modules {
            let name = path + ".weight"
            guard let w = weights[name] else { continue }
            let delta = m.b.value.matmul(m.a.value)
            let merged = w.copy()
            Elementwise.axpy(config.scale, delta.data, merged.data, n: merged.count)
            out[name] = merged
        }
        return out
    }
}
