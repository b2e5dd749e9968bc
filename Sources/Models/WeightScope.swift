/// A place in a checkpoint's parameter tree, built one scope at a time (candle's
/// `VarBuilder::pp`): `WeightScope.root["model"]["layers"][3]["self_attn"]["q_proj"]` is the
/// module `model.layers.3.self_attn.q_proj`, whose `weight` is that module's weight name.
/// Architectures name their parameters this way so that a name is spelled in one place.
public struct WeightScope: Sendable, Hashable, CustomStringConvertible {
    /// The dotted module path ("" at the root).
    public let path: String

    public static let root = WeightScope(path: "")

    init(path: String) { self.path = path }

    public subscript(_ part: String) -> WeightScope { WeightScope(path: path.isEmpty ? part : path + "." + part) }
    public subscript(_ index: Int) -> WeightScope { self[String(index)] }

    /// A tensor of this module: `model.norm` + "weight" -> "model.norm.weight".
    public func tensor(_ leaf: String) -> String { path.isEmpty ? leaf : path + "." + leaf }
    public var weight: String { tensor("weight") }
    public var bias: String { tensor("bias") }

    /// The last part of the path: the module's own name ("q_proj"), as PEFT's target_modules name it.
    public var moduleName: Substring { path.split(separator: ".").last ?? "" }

    public var description: String { path }
}
