import ArgumentParser
import Foundation
import Models

struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Fold a LoRA adapter into its base model and save a full Hugging Face model.")

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "Output folder.") var out: String

    func validate() throws {
        if modelOptions.adapter == nil { throw ValidationError("--adapter is required: the LoRA folder to merge") }
    }

    func run() throws {
        let loaded = try modelOptions.load()
        let adapters = try loaded.loadAdapters(modelOptions.adapter!)
        try ModelWriter.save(config: loaded.config, weights: adapters.merged(into: loaded.weights), tokenizer: loaded.tokenizer, to: URL(fileURLWithPath: out))
        print(out)
    }
}
