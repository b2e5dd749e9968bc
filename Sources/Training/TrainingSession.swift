import Support
import Foundation
import Models
import Tensor
import Tokenizers

/// A training run assembled from a model, a data file and options: the piece the command line
/// and the tests both use. It loads and renders the data, holds out a validation split, puts
/// LoRA adapters on the model (or makes every weight trainable), prepares DPO's reference
/// log-probs, and builds the trainer with the right way to save.
public struct TrainingSession {
    public enum Kind: String, Sendable { case sft, dpo }

    public let trainer: Trainer
    public let report: DatasetReader.Report
    public let evalExamples: Int

    public init(kind: Kind, model loaded: PretrainedModel, modelName: String, data: String, evalData: String? = nil,
                chatTemplate: String? = nil, options: TrainingOptions, outputDirectory: URL,
                log: (String) -> Void = { _ in }) throws {
        try options.validate()
        let tokenizer = loaded.tokenizer
        let template = try ChatTemplate.resolve(name: chatTemplate, tokenizer: tokenizer)
        template.warning.map { log("warning: " + $0) }
        let reader = DatasetReader(tokenizer: tokenizer, template: template, maxLength: options.maxLength)
        let model = try loaded.makeModel(trainable: options.full)
        model.gradientCheckpointing = options.gradientCheckpointing ?? false
        let pad = tokenizer.padTokenId ?? tokenizer.eosTokenId ?? 0

        var trainable: [String: Variable]
        let weightsFile: String
        let saveModel: (URL) throws -> Void
        if options.full {
            trainable = model.parameters
            weightsFile = "model.safetensors"
            saveModel = { try ModelWriter.save(model, tokenizer: tokenizer, to: $0) }
        } else {
            let adapters = try LoRAAdapters(config: options.lora, model: model, seed: options.seed)
            model.lora = adapters
            trainable = adapters.parameters
            weightsFile = "adapter_model.safetensors"
            let base = modelName
            saveModel = { dir in
                try adapters.save(to: dir, baseModel: base)
                try tokenizer.save(to: dir)
            }
        }

        func read<T>(_ records: (String) throws -> ([T], DatasetReader.Report)) throws -> (train: [T], held: [T], report: DatasetReader.Report) {
            try DatasetReader.split(records, data: data, evalData: evalData, options: options)
        }

        let objective: TrainingObjective, evalObjective: TrainingObjective?
        switch kind {
        case .sft:
            let (train, held, report) = try read(reader.readSFT)
            self.report = report
            report.truncationWarning(maxLength: options.maxLength).map(log)
            evalExamples = held.count
            objective = SFTObjective(examples: train, padToken: pad)
            evalObjective = held.isEmpty ? nil : SFTObjective(examples: held, padToken: pad)
        case .dpo:
            let (train, held, report) = try read(reader.readPreferences)
            self.report = report
            report.truncationWarning(maxLength: options.maxLength).map(log)
            evalExamples = held.count
            // The reference policy is the model before training: the base with adapters off, or
            // the untouched weights for full fine-tuning. Computed once, cached on disk.
            func reference(_ examples: [PreferenceExample], _ name: String, needed: [Int]? = nil) throws -> [Float] {
                let fingerprint = ContentKey.of([FileDigest.of(loaded.source.path), FileDigest.of(data), evalData.map(FileDigest.of) ?? "",
                                                 String(options.maxLength), template.identity, name,
                                                 String(examples.count), String(examples.map(\.tokens).reduce(0, +))])
                try FileManager.default.createDirectory(at: outputDirectory, withIntermediateDirectories: true)
                model.lora?.enabled = false
                defer { model.lora?.enabled = true }
                log("computing reference log-probs for \(needed?.count ?? examples.count) of \(examples.count) \(name) pairs")
                return try DPOObjective.referenceLogps(model: model, examples: examples, needed: needed, padToken: pad, batchSize: options.batchSize,
                                                       cacheFile: outputDirectory.appendingPathComponent("reference_logps_\(name).safetensors"),
                                                       fingerprint: fingerprint)
            }
            // Only the pairs the step plan visits: SRPO's max_steps covers a third of its pairs.
            let visited = StepPlan(lengths: train.map(\.tokens), options: options).visitedExamples
            objective = DPOObjective(examples: train, config: options.dpo, reference: try reference(train, "train", needed: visited), padToken: pad)
            evalObjective = held.isEmpty ? nil : DPOObjective(examples: held, config: options.dpo, reference: try reference(held, "eval"), padToken: pad)
        }
        trainer = Trainer(model: model, trainable: trainable, objective: objective, evalObjective: evalObjective, options: options,
                          outputDirectory: outputDirectory, weightsFile: weightsFile, saveModel: saveModel)
    }
}
