import Evaluation
import Foundation
import Training

/// The checkpoints a frontier evaluates along one training run: for points n, the saved
/// checkpoints nearest to 1/n, 2/n, ... of the final step (the final model is the last point,
/// evaluated with the whole suite).
enum FrontierCheckpoints {
    struct Chosen: Equatable { var part: Int; var step: Int; var final: Int }

    /// One checkpoint per part, nearest to part/points of the final step (the earlier on a tie),
    /// never the final one; nil when the folder holds no checkpoint before the final step.
    static func choose(steps: [Int], points: Int) -> [Chosen]? {
        guard let final = steps.max() else { return nil }
        let earlier = steps.filter { $0 < final }.sorted()
        guard !earlier.isEmpty else { return nil }
        return (1..<points).map { part in
            let target = Double(final) * Double(part) / Double(points)
            let step = earlier.min { abs(Double($0) - target) < abs(Double($1) - target) || (abs(Double($0) - target) == abs(Double($1) - target) && $0 < $1) }!
            return Chosen(part: part, step: step, final: final)
        }
    }

    static func choose(in folder: String, points: Int) -> [Chosen]? {
        choose(steps: Trainer.checkpointSteps(in: URL(fileURLWithPath: folder)), points: points)
    }

    /// Removes the checkpoints the frontier does not read (the final one stays for resuming).
    /// Choosing again afterwards gives the same checkpoints: each was the nearest among more.
    static func prune(_ folder: String, points: Int) {
        let steps = Trainer.checkpointSteps(in: URL(fileURLWithPath: folder))
        guard let chosen = choose(steps: steps, points: points), let final = steps.max() else { return }
        let keep = Set(chosen.map(\.step) + [final])
        for s in steps where !keep.contains(s) {
            try? FileManager.default.removeItem(atPath: (folder as NSString).appendingPathComponent("checkpoint-\(s)"))
        }
    }
}

/// One intermediate point of a trained model's frontier: its adapter's checkpoint nearest to
/// part/of of its training, on `model` (the base, or the RW model for SRPO's adapters).
struct FrontierPoint {
    var adapter: RunLayout.Adapter
    var model: String
    var part: Int
    var of: Int
}

extension Pipeline {
    /// The intermediate points of every trained model the run evaluates (run 0 only).
    var frontierPoints: [FrontierPoint] {
        guard seedIndex == 0, let f = recipe.frontier else { return [] }
        return evaluated.flatMap { m -> [FrontierPoint] in
            guard let adapter = RunLayout.Adapter.allCases.first(where: { $0.label == m.label }) else { return [] }
            // The RW model's own training ran on the base.
            let model = adapter == .rw ? baseModel : m.model
            return (1..<f.points).map { FrontierPoint(adapter: adapter, model: model, part: $0, of: f.points) }
        }
    }

    /// Evaluates a frontier point's checkpoint on the frontier part of the run's suite.
    func evaluateFrontier(_ p: FrontierPoint) -> Stage {
        let l = layout, e = recipe.evaluation
        let folder = l.checkpoint(p.adapter), out = l.frontierEvaluation(p.adapter, part: p.part, of: p.of)
        let kind = StageKind.frontier(p.adapter, part: p.part, of: p.of), stage = kind.name
        let part = (try? Suite.named(e.suite))?.frontierPart()
        let heldOut = evaluationData.heldOutFamilies.count
        let generations: Int = part?.entries.map { Self.generations($0, heldOutFamilies: heldOut) }.reduce(0, +) ?? 0
        return Stage(kind: kind, inputs: [p.model, folder + "/adapter_model.safetensors"],
                     settings: Self.settings(["eval": e, "frontier": recipe.frontier].merging(evaluationJudgeSettings) { a, _ in a }.merging(engineSettings) { a, _ in a }),
                     outputs: [out + "/results.json"], run: { [self] in
            guard let suite = try Suite.named(e.suite).frontierPart() else {
                throw RecipeError.stage(name: stage, reason: "suite \(e.suite) lacks a jailbreak or an xstest benchmark: the frontier plots one against the other")
            }
            guard let chosen = FrontierCheckpoints.choose(in: folder, points: p.of)?.first(where: { $0.part == p.part }) else {
                throw RecipeError.stage(name: stage, reason: "\(folder) has no checkpoint before its last step: lower save_steps so that training saves along the way")
            }
            let adapter = (folder as NSString).appendingPathComponent("checkpoint-\(chosen.step)")
            let events = self.events
            let job = EvaluationJob(suite: suite, data: evaluationData, judge: recipe.judge, label: "\(p.adapter.label) step \(chosen.step)/\(chosen.final)",
                                    modelName: p.model, adapter: adapter)
            _ = try await job.run(engine: try engine(p.model, adapter: adapter, batchSize: e.batchSize, stage: kind), out: out, events: { events(.build($0)) })
        }, plan: "\(p.adapter.label) at \(p.part)/\(p.of) of its training: held-out jailbreak families and XSTest safe prompts of suite \(e.suite)",
           decodeTokens: (part?.maxTokens ?? 0) * generations, forwardTokens: generations * TypicalSizes.evalPromptTokens,
           adapted: true, elsewhere: !recipe.engine.isEmbedded)
    }
}
