// swift-tools-version:6.0
import PackageDescription

// Kernels are written with Swift SIMD types; targeting haswell (x86-64-v3: AVX2, FMA, F16C) lets the compiler
// emit 256-bit vector code for them. saro checks the CPU at start-up and says so clearly when
// it lacks these features (see `CPUFeatures.requireSupported`).
let simdFlags: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "haswell"])]

let package = Package(
    name: "saro",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "saro", targets: ["saro"]),
        .library(name: "Tensor", targets: ["Tensor"]),
        .library(name: "Models", targets: ["Models"]),
        .library(name: "Tokenizers", targets: ["Tokenizers"]),
        .library(name: "Training", targets: ["Training"]),
        .library(name: "Serving", targets: ["Serving"]),
        .library(name: "Inference", targets: ["Inference"]),
        .library(name: "SaRO", targets: ["SaRO"]),
        .library(name: "Evaluation", targets: ["Evaluation"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.0.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.0.0"),
    ],
    targets: [
        .target(
            name: "CSupport",
            cSettings: [.unsafeFlags(["-O3", "-mavx2", "-mfma", "-mf16c", "-ffp-contract=off"])]
        ),
        .target(
            name: "Tensor",
            dependencies: ["CSupport", "Support"],
            swiftSettings: simdFlags,
            linkerSettings: [.linkedLibrary("dl")]
        ),
        // Small helpers every layer may use: installed resource folders, atomic writes, content
        // keys (SHA-256), helper programs, the monotonic clock, input-file errors with their
        // line, CSV, UTF-8 and YAML error positions.
        .target(name: "Support", dependencies: ["CSupport", .product(name: "Yams", package: "Yams"), .product(name: "Crypto", package: "swift-crypto")]),
        // Jinja templates as Hugging Face renders chat templates (Jinja2 semantics, Python's text rules).
        .target(name: "Jinja"),
        .target(
            name: "Tokenizers",
            dependencies: ["Support", "Jinja"],
            swiftSettings: simdFlags
        ),
        .target(
            name: "Models",
            dependencies: ["CSupport", "Tensor", "Tokenizers", "Support"],
            swiftSettings: simdFlags
        ),
        .target(
            name: "Training",
            dependencies: ["Models", "Tensor", "Tokenizers", "Support"],
            swiftSettings: simdFlags
        ),
        .target(
            name: "Serving",
            dependencies: ["Models", "Tensor", "Tokenizers", "Support", .product(name: "Hummingbird", package: "hummingbird"),
                           .product(name: "HummingbirdCore", package: "hummingbird"), .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: simdFlags
        ),
        // Content-addressed job records in SQLite: what makes data builds and evaluations resumable.
        .target(
            name: "Jobs",
            dependencies: ["Tensor", "Support", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: simdFlags
        ),
        // A client for any OpenAI-compatible chat endpoint (teachers and LLM judges).
        .target(
            name: "OpenAIClient",
            dependencies: [
                "Support",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
            ],
            swiftSettings: simdFlags
        ),
        // Response format (<think> ... </think> answer) and judges: the rule-based one and LLM judges.
        .target(
            name: "Judges",
            dependencies: ["OpenAIClient", "Jobs"],
            swiftSettings: simdFlags
        ),
        // Inference above the models, knowing no method: completions, scoring and hidden states
        // behind one protocol, run by saro's own engine or by OpenAI-compatible servers.
        .target(
            name: "Inference",
            dependencies: ["Models", "Tokenizers", "Tensor", "Jobs", "OpenAIClient"],
            swiftSettings: simdFlags
        ),
        // The method: policy, seed sets, jailbreak templates, teachers, the data builders.
        .target(
            name: "SaRO",
            dependencies: ["Inference", "Jobs", "OpenAIClient", "Judges", "Models", "Tokenizers", "Tensor", "Support",
                           .product(name: "Yams", package: "Yams")],
            resources: [.copy("Resources")],
            swiftSettings: simdFlags
        ),
        // Benchmarks, judge validation, analyses and the report.
        .target(
            name: "Evaluation",
            dependencies: ["Inference", "Judges", "Jobs", "Tokenizers", "Tensor", "Support", .product(name: "Yams", package: "Yams")],
            resources: [.copy("Resources")],
            swiftSettings: simdFlags
        ),
        // Training stages on TRL + Accelerate (a Python script saro ships and launches), from the
        // data and options saro's own trainer uses.
        .target(
            name: "TRLBridge",
            dependencies: ["Training", "Models", "Tokenizers", "Support"],
            resources: [.copy("Resources")],
            swiftSettings: simdFlags
        ),
        // Recipes: `saro run`, every stage of SaRO and its baselines in one resumable run.
        .target(
            name: "Recipes",
            dependencies: ["SaRO", "Evaluation", "Inference", "Training", "TRLBridge", "Judges", "Jobs", "OpenAIClient", "Models", "Tensor", "Support", .product(name: "Yams", package: "Yams")],
            swiftSettings: simdFlags
        ),
        .executableTarget(
            name: "saro",
            dependencies: [
                "Tensor",
                "Models",
                "Training",
                "Tokenizers",
                "Serving",
                "SaRO",
                "Inference",
                "Evaluation",
                "Recipes",
                "TRLBridge",
                "Judges",
                "Jobs",
                "OpenAIClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: simdFlags
        ),
        .testTarget(
            name: "TensorTests",
            dependencies: ["Tensor"],
            swiftSettings: simdFlags
        ),
        .testTarget(
            name: "TrainingTests",
            dependencies: ["Training", "Models", "Tensor", "Tokenizers"],
            resources: [.copy("Golden")],
            swiftSettings: simdFlags
        ),
        .testTarget(
            name: "ServingTests",
            dependencies: ["Serving", "Inference", "Models", "Tokenizers", "Tensor", "OpenAIClient", "Support", "ScriptedOpenAIServer"],
            swiftSettings: simdFlags
        ),
        .testTarget(
            name: "CLITests",
            dependencies: ["saro", "Recipes", "ScriptedOpenAIServer", "Jobs", "Tensor", "Models", "Judges", "Training", "Tokenizers", "Support", "SaRO", "OpenAIClient"],
            swiftSettings: simdFlags
        ),
        // A scripted OpenAI-compatible server that tests use as teacher and judge endpoint.
        .target(
            name: "ScriptedOpenAIServer",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"), .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Tests/ScriptedOpenAIServer"
        ),
        .testTarget(
            name: "SaROTests",
            dependencies: ["SaRO", "Inference", "Judges", "Jobs", "Support", "OpenAIClient", "Serving", "Models", "Tokenizers", "Tensor", "ScriptedOpenAIServer"],
            resources: [.copy("StepChains")],
            swiftSettings: simdFlags
        ),
        .testTarget(
            name: "EvaluationTests",
            dependencies: ["Evaluation", "Inference", "Judges", "Jobs", "Support", "SaRO"],
            resources: [.copy("Golden")],
            swiftSettings: simdFlags
        ),
        .testTarget(
            name: "ModelsTests",
            dependencies: ["Models", "Tensor", "Jinja"],
            resources: [.copy("Golden")],
            swiftSettings: simdFlags
        ),
    ],
    swiftLanguageModes: [.v5]
)
