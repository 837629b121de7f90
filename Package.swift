// swift-tools-version:6.0
import PackageDescription
import Foundation

// Kernels are compiled for the build machine's own vector ISA (AVX2/AVX-512 on x86-64,
// NEON/dotprod on arm64): Swift SIMD types only become wide vector code when the compiler
// may use those instructions. Set LOOM_PORTABLE=1 to build a binary for any CPU of the arch.
let environment = ProcessInfo.processInfo.environment
let portable = environment["LOOM_PORTABLE"] == "1"

/// True when SwiftPM evaluates this manifest for a package that depends on Loom rather than
/// for Loom's own checkout. SwiftPM refuses `unsafeFlags` in a package depended on by version
/// ("the target 'LoomKernels' in product 'Loom' contains unsafe build flags"), so then the
/// targets carry no unsafe flags and a dependent opts in to the fast path with its own
/// `-Xswiftc -target-cpu -Xswiftc native -Xswiftc -Ounchecked` (applied to every target of
/// the build, dependencies included). SwiftPM and Xcode both clone a dependency into a folder
/// named `checkouts` (`.build/checkouts/Loom`, `SourcePackages/checkouts/Loom`; also under a
/// custom `--scratch-path`); LOOM_AS_DEPENDENCY=1 forces this mode for other layouts.
let isDependency = environment["LOOM_AS_DEPENDENCY"] == "1"
    || URL(fileURLWithPath: Context.packageDirectory).deletingLastPathComponent().lastPathComponent == "checkouts"

let hostISA: [String] = portable ? [] : ["-target-cpu", "native"]

/// Settings shared by every Loom target: host ISA everywhere, and in release builds no
/// exclusivity or overflow checks on the hot paths (the kernels check bounds themselves,
/// once per call rather than once per element). None when Loom is a dependency (see above).
let fastSettings: [SwiftSetting] = isDependency ? [] : [
    .unsafeFlags(hostISA),
    .unsafeFlags(["-Ounchecked", "-enforce-exclusivity=unchecked"], .when(configuration: .release)),
]

let package = Package(
    name: "Loom",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "loom", targets: ["loom"]),
        .library(name: "Loom", targets: ["LoomKernels", "LoomFormats", "LoomJinja", "LoomTokenizer", "LoomModels", "LoomGeneration", "LoomEval", "LoomHub", "LoomTraining", "LoomData"]),
        .library(name: "LoomServer", targets: ["LoomServer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.34.1"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // Header-only C shim for the one CPU hint Swift cannot express (a prefetch).
        .target(name: "LoomIntrinsics"),
        .target(name: "LoomKernels", dependencies: ["LoomIntrinsics"], swiftSettings: fastSettings),
        .target(
            name: "LoomFormats",
            dependencies: ["LoomKernels", "LoomJinja"],
            swiftSettings: fastSettings),
        // Chat templates (Jinja) and the one JSON value type and parser; no other Loom module.
        .target(
            name: "LoomJinja",
            dependencies: [.product(name: "OrderedCollections", package: "swift-collections")],
            swiftSettings: fastSettings),
        // Model catalog, cache, pip fetcher and Hugging Face hub client. Not on the hot path, so
        // it keeps Swift's overflow and exclusivity checks (no fastSettings): it parses
        // downloaded archives and network replies.
        .target(
            name: "LoomHub",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]),
        .target(name: "LoomTokenizer", dependencies: ["LoomFormats", "LoomJinja"], swiftSettings: fastSettings),
        .target(name: "LoomModels", dependencies: ["LoomKernels", "LoomFormats", "LoomTokenizer"], swiftSettings: fastSettings),
        .target(name: "LoomGeneration", dependencies: ["LoomModels", "LoomTokenizer", "LoomHub"], swiftSettings: fastSettings),
        .target(name: "LoomEval", dependencies: ["LoomModels", "LoomGeneration", "LoomTokenizer", "LoomFormats", "LoomKernels"], swiftSettings: fastSettings),
        // Fine-tuning: the decoder's backward pass, LoRA/QLoRA training, optimiser, schedules,
        // datasets and the LLaMA-Factory hand-off. Sits on LoomModels/LoomGeneration like LoomEval.
        .target(name: "LoomTraining", dependencies: ["LoomModels", "LoomGeneration", "LoomTokenizer", "LoomFormats", "LoomKernels", "LoomJinja"], swiftSettings: fastSettings),
        // The corpus pipeline (`loom data`): ingest, clean, dedup, scrub, report. It parses
        // untrusted files (HTML, CSV, JSON), so like LoomHub it keeps Swift's overflow and
        // exclusivity checks (no fastSettings).
        .target(name: "LoomData", dependencies: [
            "LoomJinja", .product(name: "OrderedCollections", package: "swift-collections"),
            // Recipes (`loom data run RECIPE.yaml`) are YAML.
            .product(name: "Yams", package: "Yams"),
        ],
        // The host ISA only (checks stay on): MinHash signatures vectorise to AVX2's 4 lanes
        // and unsigned minimum instead of SSE2's 2 lanes with an emulated one.
        swiftSettings: isDependency ? [] : [.unsafeFlags(hostISA)]),
        .target(
            name: "LoomServer",
            dependencies: [
                "LoomModels", "LoomGeneration", "LoomTokenizer", "LoomFormats", "LoomKernels", "LoomJinja", "LoomEval", "LoomHub",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                // The HTTP/1 decoder's errors and part types, for the connection guard.
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: fastSettings),
        .executableTarget(
            name: "loom",
            dependencies: [
                "LoomKernels", "LoomFormats", "LoomTokenizer", "LoomModels", "LoomGeneration", "LoomEval", "LoomServer", "LoomHub", "LoomTraining", "LoomData",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: fastSettings),
        .executableTarget(
            name: "TokenRiskAnalysis",
            dependencies: ["LoomGeneration"],
            path: "Examples/TokenRiskAnalysis",
            exclude: ["tokens.json"],
            swiftSettings: fastSettings),
        // Test support shared by the test targets (not in any product): the deterministic
        // generator that materialises the tiny test checkpoints from their `weights.json`
        // manifests, so no weight file is committed (scripts/synthetic_weights.py is its twin).
        .target(
            name: "LoomTestSupport",
            dependencies: ["LoomFormats", "LoomKernels", .product(name: "Crypto", package: "swift-crypto")],
            path: "Tests/LoomTestSupport"),
        .testTarget(name: "LoomKernelsTests", dependencies: ["LoomKernels"], resources: [.copy("Fixtures")], swiftSettings: fastSettings),
        .testTarget(name: "LoomFormatsTests", dependencies: ["LoomFormats", "LoomHub", "LoomTestSupport"], resources: [.copy("Fixtures")], swiftSettings: fastSettings),
        .testTarget(
            name: "LoomHubTests",
            dependencies: [
                "LoomHub", .product(name: "Crypto", package: "swift-crypto"),
                // The loopback HF-like server the hub client is tested against.
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]),
        .testTarget(name: "LoomJinjaTests", dependencies: ["LoomJinja"], resources: [.copy("Fixtures")], swiftSettings: fastSettings),
        .testTarget(name: "LoomTokenizerTests", dependencies: ["LoomTokenizer", "LoomFormats", "LoomJinja", "LoomHub"], resources: [.copy("Fixtures")], swiftSettings: fastSettings),
        .testTarget(name: "LoomModelsTests", dependencies: ["LoomModels", "LoomFormats", "LoomTokenizer", "LoomHub", "LoomTestSupport", .product(name: "Crypto", package: "swift-crypto")], resources: [.copy("Fixtures")], swiftSettings: fastSettings),
        .testTarget(name: "LoomCLITests", dependencies: ["loom", "LoomModels", "LoomKernels", "LoomFormats", "LoomTestSupport"], swiftSettings: fastSettings),
        .testTarget(name: "LoomEvalTests", dependencies: ["LoomEval", "LoomModels", "LoomGeneration", "LoomFormats", "LoomTokenizer", "LoomKernels", "LoomHub"], resources: [.copy("Fixtures")], swiftSettings: fastSettings),
        .testTarget(
            name: "LoomServerTests",
            dependencies: [
                "LoomServer", "LoomModels", "LoomGeneration", "LoomFormats", "LoomKernels", "LoomHub", "LoomTestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: fastSettings),
        .testTarget(name: "LoomTrainingTests", dependencies: ["LoomTraining", "LoomModels", "LoomFormats", "LoomKernels", "LoomTokenizer", "LoomGeneration", "LoomJinja", "LoomHub"], resources: [.copy("Fixtures")], swiftSettings: fastSettings),
        .testTarget(name: "LoomDataTests", dependencies: ["LoomData", "LoomJinja"], resources: [.copy("Fixtures")]),
        .testTarget(name: "LoomGenerationTests", dependencies: ["LoomGeneration", "LoomModels", "LoomFormats", "LoomKernels", "LoomTokenizer", "LoomHub", "LoomJinja"], resources: [.copy("Fixtures")], swiftSettings: fastSettings),
    ],
    swiftLanguageModes: [.v5]
)
