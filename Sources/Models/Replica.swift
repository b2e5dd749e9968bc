import Tensor

extension LlamaModel {
    /// A model that computes with the same weights, without copying them, through parameter
    /// variables of its own: its gradients accumulate apart from this model's, so several
    /// replicas can run forward and backward at once (data-parallel training's lanes) and
    /// their gradients be summed afterwards. `counterparts` maps each of this model's
    /// parameter variables (adapters included) to the replica's. The replica's adapters draw
    /// dropout masks from `dropoutSeed`.
    public func replica(dropoutSeed: UInt64) -> (model: LlamaModel, counterparts: [ObjectIdentifier: Variable]) {
        var counterparts: [ObjectIdentifier: Variable] = [:]
        func twin(_ v: Variable) -> Variable {
            let t = Variable(v.value, requiresGrad: v.requiresGrad, name: v.name)
            counterparts[ObjectIdentifier(v)] = t
            return t
        }
        let copy = LlamaModel(config: config, parameters: parameters.mapValues(twin), quantized: quantized)
        copy.gradientCheckpointing = gradientCheckpointing
        if let lora {
            copy.lora = LoRAAdapters(config: lora.config, modules: lora.modules.mapValues { (a: twin($0.a), b: twin($0.b)) },
                                     rng: SplitMix64(seed: dropoutSeed), enabled: lora.enabled)
        }
        return (copy, counterparts)
    }
}
