import Foundation
import XCTest
@testable import LoomHub

/// Shared helpers for the model-store tests: temporary directories and running Python, the
/// independent reference (hashlib, zlib, zipfile) that expected values come from.
enum ModelStoreTestSupport {
    /// A fresh empty directory under the system temp dir; removed by the caller's `defer`.
    static func temporaryDirectory(_ label: String) throws -> String {
        let path = NSTemporaryDirectory() + "/loom-\(label)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Runs a Python 3 script with arguments and returns its standard output; fails the test
    /// setup with Python's stderr if it exits non-zero.
    static func python(_ script: String, _ arguments: [String] = []) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try PipFetcher().locatePython())
        process.arguments = ["-c", script] + arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errors = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw NSError(domain: "python", code: Int(process.terminationStatus), userInfo: [
                NSLocalizedDescriptionKey: String(decoding: errors, as: UTF8.self)])
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// hashlib's SHA-256 of a file, as lower-case hex.
    static func pythonSHA256(ofFile path: String) throws -> String {
        try python("import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],'rb').read()).hexdigest())", [path])
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Deterministic pseudo-random bytes (xorshift), so failures reproduce.
    static func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed | 1
        return (0..<count).map { _ in
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return UInt8(truncatingIfNeeded: state >> 24)
        }
    }

    /// Writes an executable shell script (a stand-in for python3 in failure tests).
    static func writeScript(_ path: String, _ body: String) throws {
        try ("#!/bin/sh\n" + body + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertEqual(chmod(path, 0o755), 0)
    }

    /// Collects progress events from any thread.
    final class EventLog: @unchecked Sendable {
        private let lock = NSLock()
        private var storage: [FetchProgress.Event] = []

        var progress: FetchProgress {
            FetchProgress { [self] event in
                lock.lock()
                storage.append(event)
                lock.unlock()
            }
        }

        var events: [FetchProgress.Event] {
            lock.lock()
            defer { lock.unlock() }
            return storage
        }

        var phases: [String] {
            events.compactMap { if case let .phase(text) = $0 { return text } else { return nil } }
        }

        var toolLines: [String] {
            events.compactMap { if case let .toolOutput(text) = $0 { return text } else { return nil } }
        }
    }
}

/// Checks on the helpers themselves, so a broken reference cannot make other tests pass.
final class ModelStoreTestSupportTests: XCTestCase {
    func testPythonReferenceRuns() throws {
        let out = try ModelStoreTestSupport.python("import sys; print(sum(map(int, sys.argv[1:])))", ["2", "40"])
        XCTAssertEqual(out.trimmingCharacters(in: .whitespacesAndNewlines), "42")
    }

    func testRandomBytesAreDeterministicAndVaried() {
        let a = ModelStoreTestSupport.randomBytes(4096, seed: 7)
        XCTAssertEqual(a, ModelStoreTestSupport.randomBytes(4096, seed: 7))
        XCTAssertNotEqual(a, ModelStoreTestSupport.randomBytes(4096, seed: 8))
        XCTAssertGreaterThan(Set(a).count, 200)
    }
}
