import Foundation
import XCTest

/// Loom must be usable as a Swift package by version: a tiny package that declares
/// `.package(url: …, from: "0.1.0")` on a tagged clone and depends on the `Loom` product must
/// resolve, build and run (scripts/check_dependent_package.sh). SwiftPM refuses
/// `unsafeFlags` in such a dependency, so this guards Package.swift's dependency mode.
///
/// It clones and builds a second package (several minutes), so it runs where CI runs it
/// (`CI=true`, as CI sets) or with `LOOM_CHECK_DEPENDENT=1`.
final class DependentPackageTests: XCTestCase {
    func testLoomBuildsAsAVersionedDependency() throws {
        let environment = ProcessInfo.processInfo.environment
        guard environment["CI"] == "true" || environment["LOOM_CHECK_DEPENDENT"] == "1" else {
            throw XCTSkip("builds a dependent package (minutes): runs under CI=true or LOOM_CHECK_DEPENDENT=1")
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["bash", root.appendingPathComponent("scripts/check_dependent_package.sh").path]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        XCTAssertEqual(process.terminationStatus, 0, "check_dependent_package.sh failed:\n\(text.suffix(4000))")
        print(text.suffix(1500))
    }
}
