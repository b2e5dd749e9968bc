import Foundation
import Tensor

/// The jailbreak evaluation set: for each template family, `perFamily` harmful seeds of the
/// evaluation sources, each wrapped in one of the family's templates, split into families seen
/// in training ("train") and held out ("held_out").
///
/// It draws from its own random stream (seeded by the data seed), apart from the training
/// sampler: how training queries are drawn, or how many, cannot change what is evaluated.
public enum JailbreakEvalSet {
    public static func build(config c: DataConfig, templates: TemplateLibrary, sources: SeedSources, perFamily: Int? = nil) throws -> [Query] {
        var rng = SplitMix64(seed: c.seed &+ 0x4A_42_45_56)
        var seeds: [Seed] = []
        for s in c.jailbreakEvalSources { seeds += try sources.load(s).filter { $0.kind == .harmful } }
        let (trainTemplates, heldOutTemplates) = templates.split(heldOut: Set(c.heldOutFamilies))
        var out: [Query] = []
        for (group, split) in [(trainTemplates, "train"), (heldOutTemplates, "held_out")] {
            let byFamily = Dictionary(grouping: group, by: \.family)
            for family in byFamily.keys.sorted() {
                let ts = byFamily[family]!
                for (j, seed) in QuerySet.shuffled(seeds, &rng).prefix(perFamily ?? c.jailbreakEvalPerFamily).enumerated() {
                    let t = ts[j % ts.count]
                    out.append(Query(seed: seed, wrapped: t.apply(seed.text), template: t, split: split))
                }
            }
        }
        return out
    }
}
