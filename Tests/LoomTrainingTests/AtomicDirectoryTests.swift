import Foundation
import XCTest
@testable import LoomTraining

/// Checkpoint directories are replaced whole or not at all.
final class AtomicDirectoryTests: XCTestCase {
    func testFailedWriteLeavesThePreviousDirectoryAndNoTemporary() throws {
        let parent = FileManager.default.temporaryDirectory.appendingPathComponent("loom-atomic-\(UUID().uuidString)").path
        addTeardownBlock { try? FileManager.default.removeItem(atPath: parent) }
        let target = parent + "/checkpoint-2"
        try AtomicDirectory.write(to: target) { try AtomicDirectory.writeFile(Data("old".utf8), to: $0 + "/state") }
        XCTAssertEqual(try String(contentsOfFile: target + "/state", encoding: .utf8), "old")

        struct DiskFull: Error {}
        XCTAssertThrowsError(try AtomicDirectory.write(to: target) { temporary in
            try AtomicDirectory.writeFile(Data("new, half".utf8), to: temporary + "/state")
            throw DiskFull()   // as ENOSPC half-way through
        }) { error in
            guard case FineTuneRunError.saveFailed(let path, _)? = error as? FineTuneRunError else { return XCTFail("\(error)") }
            XCTAssertEqual(path, target)
        }
        XCTAssertEqual(try String(contentsOfFile: target + "/state", encoding: .utf8), "old")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: parent), ["checkpoint-2"])

        // A successful rewrite replaces it whole.
        try AtomicDirectory.write(to: target) { try AtomicDirectory.writeFile(Data("new".utf8), to: $0 + "/other") }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: target), ["other"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: parent), ["checkpoint-2"])
    }
}
