import ArgumentParser
import Foundation
import Models

struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Fold a LoRA adapter into its base model and save a full Hugging Face model.")

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "Adapter folder (adapter_config.json, adapter_model.safetensors).") var adapter: String
    @Option(help: "Output folder.") var out: String

    func run() throws {
        let loaded = try modelOptions.load()
        let model = try loaded.makeModel()
        let dir = URL(fileURLWithPath: adapter)
        let adapters = try LoRAAdapters(config: try LoRAAdapters.readConfig(dir), model: model, seed: 0)
        try adapters.load(from: dir)
        try ModelWriter.save(config: loaded.config, weights: adapters.merged(into: loaded.weights), tokenizer: loaded.tokenizer, to: URL(fileURLWithPath: out))
        print(out)
    }
}
