// swift-tools-version:6.0
import PackageDescription

// libFuzzer harnesses for Loom's parsers of untrusted input (issue #21, "Keep it that way").
// A separate package so that the main package, its tests and CI are untouched: it depends on
// the checkout above by path and is built only by scripts/fuzz.sh, into `.build-fuzz`, with
// `-sanitize=fuzzer,address`. Each harness is one executable exporting
// `LLVMFuzzerTestOneInput`; see Sources/FuzzSupport/FuzzDriver.swift for the entry point.
let package = Package(
    name: "LoomFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(name: "Loom", path: "..")],
    targets: [
        .target(name: "FuzzSupport"),
        .executableTarget(name: "FuzzGGUF", dependencies: [
            "FuzzSupport",
            .product(name: "Loom", package: "Loom"),
        ]),
        .executableTarget(name: "FuzzSafetensors", dependencies: ["FuzzSupport", .product(name: "Loom", package: "Loom")]),
        .executableTarget(name: "FuzzHFConfig", dependencies: ["FuzzSupport", .product(name: "Loom", package: "Loom")]),
        .executableTarget(name: "FuzzHFTokenizer", dependencies: ["FuzzSupport", .product(name: "Loom", package: "Loom")]),
        .executableTarget(name: "FuzzJSON", dependencies: ["FuzzSupport", .product(name: "Loom", package: "Loom")]),
        .executableTarget(name: "FuzzJinja", dependencies: ["FuzzSupport", .product(name: "Loom", package: "Loom")]),
        .executableTarget(name: "FuzzBPE", dependencies: ["FuzzSupport", .product(name: "Loom", package: "Loom")]),
        .executableTarget(name: "FuzzServerRequest", dependencies: [
            "FuzzSupport",
            .product(name: "Loom", package: "Loom"),
            .product(name: "LoomServer", package: "Loom"),
        ]),
    ],
    swiftLanguageModes: [.v5]
)
