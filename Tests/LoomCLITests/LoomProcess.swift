import Foundation
import XCTest

/// The built `loom` executable, run as a user runs it, for every CLI test.
enum LoomProcess {
    /// What a run left: exit status and both outputs.
    struct Output {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// The built `loom` next to the test bundle.
    static var executable: URL {
        var dir = Bundle(for: CLITests.self).bundleURL
        while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("loom").path), dir.path != "/" {
            dir = dir.deletingLastPathComponent()
        }
        return dir.appendingPathComponent("loom")
    }

    /// Runs `loom` with `arguments`, feeding `stdin` (or nothing) and collecting both outputs.
    /// Input and outputs go through temporary files, so no pipe can fill up and block the child.
    /// `environment` entries are added to (or replace) this process's environment.
    static func run(_ arguments: [String], stdin: String? = nil, environment: [String: String] = [:]) throws -> Output {
        let fm = FileManager.default
        let directory = fm.temporaryDirectory.appendingPathComponent("loom-cli-\(UUID().uuidString)").path
        try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? fm.removeItem(atPath: directory) }
        let input = directory + "/stdin", out = directory + "/stdout", err = directory + "/stderr"
        _ = fm.createFile(atPath: input, contents: Data((stdin ?? "").utf8))
        _ = fm.createFile(atPath: out, contents: nil)
        _ = fm.createFile(atPath: err, contents: nil)
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        process.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: input))
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: err))
        try process.run()
        process.waitUntilExit()
        return Output(status: process.terminationStatus,
                      stdout: String(decoding: try Data(contentsOf: URL(fileURLWithPath: out)), as: UTF8.self),
                      stderr: String(decoding: try Data(contentsOf: URL(fileURLWithPath: err)), as: UTF8.self))
    }
}
