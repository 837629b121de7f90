// swift-tools-version:6.0
import PackageDescription
import Foundation

// Kernels are compiled for the build machine's own vector ISA (AVX2/AVX-512 on x86-64,
// NEON/dotprod on arm64): Swift SIMD types only become wide vector code when the compiler
// may use those instructions. Set LOOM_PORTABLE=1 to build a binary for any CPU of the arch.
let portable = ProcessInfo.processInfo.environment["LOOM_PORTABLE"] == "1"
let hostISA: [String] = portable ? [] : ["-target-cpu", "native"]

/// Settings shared by every Loom target: host ISA everywhere, and in release builds no
/// exclusivity or overflow checks on the hot paths (the kernels check bounds themselves,
/// once per call rather than once per element).
let fastSettings: [SwiftSetting] = [
    .unsafeFlags(hostISA),
    .unsafeFlags(["-Ounchecked", "-enforce-exclusivity=unchecked"], .when(configuration: .release)),
]

let package = Package(
    name: "Loom",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "loom", targets: ["loom"]),
        .library(name: "Loom", targets: ["LoomKernels", "LoomFormats", "LoomTokenizer", "LoomModels", "LoomGeneration", "LoomEval", "LoomHub"]),
        .library(name: "LoomServer", targets: ["LoomServer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20"),
    ],
    targets: [
        // Header-only C shim for the one CPU hint Swift cannot express (a prefetch).
        .target(name: "LoomIntrinsics"),
        .target(name: "LoomKernels", dependencies: ["LoomIntrinsics"], swiftSettings: fastSettings),
        .target(
            name: "LoomFormats",
            dependencies: ["LoomKernels"],
            swiftSettings: fastSettings),
        // Model catalog, cache and pip fetcher. Not on the hot path, so it keeps Swift's
        // overflow and exclusivity checks (no fastSettings): it parses downloaded archives.
        .target(
            name: "LoomHub",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ]),
        .target(name: "LoomTokenizer", dependencies: ["LoomFormats"], swiftSettings: fastSettings),
        .target(name: "LoomModels", dependencies: ["LoomKernels", "LoomFormats", "LoomTokenizer"], swiftSettings: fastSettings),
        .target(name: "LoomGeneration", dependencies: ["LoomModels", "LoomTokenizer", "LoomHub"], swiftSettings: fastSettings),
        .target(name: "LoomEval", dependencies: ["LoomModels", "LoomGeneration", "LoomTokenizer", "LoomFormats", "LoomKernels"], swiftSettings: fastSettings),
        .target(
            name: "LoomServer",
            dependencies: [
                "LoomModels", "LoomGeneration", "LoomTokenizer", "LoomFormats", "LoomKernels",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: fastSettings),
        .executableTarget(
            name: "loom",
            dependencies: [
                "LoomKernels", "LoomFormats", "LoomTokenizer", "LoomModels", "LoomGeneration", "LoomEval", "LoomServer", "LoomHub",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: fastSettings),
        .executableTarget(
            name: "TokenRiskAnalysis",
            dependencies: ["LoomGeneration"],
            path: "Examples/TokenRiskAnalysis",
            exclude: ["tokens.json"],
            swiftSettings: fastSettings),
        .testTarget(name: "LoomKernelsTests", dependencies: ["LoomKernels"], resources: [.copy("Fixtures")], swiftSettings: fastSettings),
        .testTarget(name: "LoomFormatsTests", dependencies: ["LoomFormats", "LoomHub"], resources: [.copy("Fixtures")], swiftSettings: fastSettings),
        .testTarget(name: "LoomHubTests", dependencies: ["LoomHub", .product(name: "Crypto", package: "swift-crypto")]),
        .testTarget(name: "LoomTokenizerTests", dependencies: ["LoomTokenizer", "LoomFormats", "LoomHub"], resources: [.copy("Fixtures")], swiftSettings: fastSettings),
        .testTarget(name: "LoomModelsTests", dependencies: ["LoomModels", "LoomFormats", "LoomTokenizer", "LoomHub", .product(name: "Crypto", package: "swift-crypto")], resources: [.copy("Fixtures")], swiftSettings: fastSettings),
        .testTarget(name: "LoomCLITests", dependencies: ["loom"], swiftSettings: fastSettings),
        .testTarget(name: "LoomEvalTests", dependencies: ["LoomEval", "LoomModels", "LoomGeneration", "LoomFormats", "LoomTokenizer", "LoomKernels", "LoomHub"], resources: [.copy("Fixtures")], swiftSettings: fastSettings),
        .testTarget(
            name: "LoomServerTests",
            dependencies: [
                "LoomServer", "LoomModels", "LoomGeneration", "LoomFormats", "LoomKernels", "LoomHub",
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            swiftSettings: fastSettings),
        .testTarget(name: "LoomGenerationTests", dependencies: ["LoomGeneration", "LoomModels", "LoomFormats", "LoomKernels", "LoomTokenizer", "LoomHub"], swiftSettings: fastSettings),
    ],
    swiftLanguageModes: [.v5]
)
