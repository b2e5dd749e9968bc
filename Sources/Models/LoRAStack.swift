import Foundation
import Tensor

extension LoRAAdapters {
    /// The adapters in a PEFT folder, read without a model: each module's A [r, in] and
    /// B [out, r] under its path, as the file names them.
    public static func read(from directory: URL) throws -> LoRAAdapters {
        let config = try readConfig(directory)
        let file = try SafeTensorsFile(path: directory.appendingPathComponent("adapter_model.safetensors").path)
        var modules: [String: (a: Variable, b: Variable)] = [:]
        let prefix = "base_model.model.", suffix = ".lora_A.weight"
        for name in file.names where name.hasPrefix(prefix) && name.hasSuffix(suffix) {
            let path = String(name.dropFirst(prefix.count).dropLast(suffix.count))
            let a = try file.tensor(name), b = try file.tensor(peftKey(path, "lora_B"))
            guard a.rank == 2, b.rank == 2, a.shape[0] == config.rank, b.shape[1] == config.rank else {
                throw ModelStoreError.invalid(path: file.path, reason: "\(path): lora_A \(a.shape) and lora_B \(b.shape) are not rank \(config.rank)")
            }
            modules[path] = (Variable(a), Variable(b))
        }
        guard !modules.isEmpty else { throw ModelStoreError.invalid(path: file.path, reason: "no lora_A / lora_B tensors") }
        return LoRAAdapters(config: config, modules: modules, rng: SplitMix64(seed: 0), enabled: true)
    }

    /// One adapter whose update is the sum of both (on the same base): for every module,
    /// A = [A1; A2] and B = [s1 B1, s2 B2] at scale 1 (rank r1 + r2, alpha = rank; a module
    /// only one of them adapts has zeros in the other's part). Base + the result is base +
    /// first + second: what a server that applies one adapter per request needs to serve a
    /// model made by two (SaRO's adapter on the RW adapter, which saro merges into a model of
    /// its own).
    public static func stacked(_ first: LoRAAdapters, _ second: LoRAAdapters) throws -> LoRAAdapters {
        let (r1, r2) = (first.config.rank, second.config.rank)
        var modules: [String: (a: Variable, b: Variable)] = [:]
        for path in Set(first.modules.keys).union(second.modules.keys).sorted() {
            let m1 = first.modules[path], m2 = second.modules[path]
            let any = (m1 ?? m2)!
            let (outputs, inputs) = (any.b.value.shape[0], any.a.value.shape[1])
            for m in [m1, m2].compactMap({ $0 }) where m.a.value.shape[1] != inputs || m.b.value.shape[0] != outputs {
                throw ModelError.wrongShape(name: peftKey(path, "lora_B"), expected: [outputs, inputs], found: [m.b.value.shape[0], m.a.value.shape[1]])
            }
            let a = Tensor(zeros: [r1 + r2, inputs]), b = Tensor(zeros: [outputs, r1 + r2])
            for (m, offset, rank, scale) in [(m1, 0, r1, first.config.scale), (m2, r1, r2, second.config.scale)] {
                guard let m else { continue }
                let (ma, mb) = (m.a.value.contiguous(), m.b.value.contiguous())
                (a.data + offset * inputs).update(from: ma.data, count: rank * inputs)
                for o in 0..<outputs {
                    for j in 0..<rank { b.data[o * (r1 + r2) + offset + j] = scale * mb.data[o * rank + j] }
                }
            }
            modules[path] = (Variable(a), Variable(b))
        }
        let targets = Array(Set(first.config.targetModules).union(second.config.targetModules)).sorted()
        let config = LoRAConfig(rank: r1 + r2, alpha: Double(r1 + r2), dropout: 0, targetModules: targets)
        return LoRAAdapters(config: config, modules: modules, rng: SplitMix64(seed: 0), enabled: true)
    }
}
