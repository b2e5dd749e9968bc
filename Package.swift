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
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
    ],
    targets: [
        .target(
            name: "CSupport",
            cSettings: [.unsafeFlags(["-O3", "-mavx2", "-mfma", "-mf16c", "-ffp-contract=off"])]
        ),
        .target(
            name: "Tensor",
            dependencies: ["CSupport"],
            swiftSettings: simdFlags,
            linkerSettings: [.linkedLibrary("dl")]
        ),
        .target(
            name: "Tokenizers",
            swiftSettings: simdFlags
        ),
        .target(
            name: "Models",
            dependencies: ["Tensor", "Tokenizers"],
            swiftSettings: simdFlags
        ),
        .target(
            name: "Training",
            dependencies: ["Models", "Tensor", "Tokenizers"],
            swiftSettings: simdFlags
        ),
        .target(
            name: "Serving",
            dependencies: ["Models", "Tensor", "Tokenizers", .product(name: "Hummingbird", package: "hummingbird")],
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
            dependencies: ["Serving", "Models", "Tokenizers", "Tensor"],
            swiftSettings: simdFlags
        ),
        .testTarget(
            name: "CLITests",
            dependencies: ["saro"],
            swiftSettings: simdFlags
        ),
        .testTarget(
            name: "ModelsTests",
            dependencies: ["Models", "Tensor"],
            resources: [.copy("Golden")],
            swiftSettings: simdFlags
        ),
    ],
    swiftLanguageModes: [.v5]
)
