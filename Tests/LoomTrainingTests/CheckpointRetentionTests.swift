import Foundation
import XCTest
@testable import LoomTraining

/// `--save-total-limit` and the tidy-up after a killed run (the `kill -9` test itself, on
/// the real binary, is FinetuneCLITests.testKillNineLosesNothingReportedSaved).
final class CheckpointRetentionTests: XCTestCase {
    func hiddenEntries(_ directory: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasPrefix(".") }.sorted()
    }

    func testSaveTotalLimitKeepsOnlyTheNewestCheckpoints() throws {
        let directory = try temporaryDirectory()
        let run = try makeRun(FineTuneRunTests.config(maxSteps: 5), FineTuneRunTests.sequences(4),
                                    options: .init(saveSteps: 1, checkpointDirectory: directory, saveTotalLimit: 2))
        var seen: [[Int]] = []
        run.onCheckpoint = { _ in seen.append(FineTuneRun.savedCheckpoints(in: directory).map(\.step)) }
        try run.run()
        // Each save is reported before the pruning that follows it: at most one more than the limit ever exists.
        XCTAssertEqual(seen, [[1], [1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 5]])
        XCTAssertEqual(FineTuneRun.savedCheckpoints(in: directory).map(\.step), [4, 5])
        XCTAssertEqual(try hiddenEntries(directory), [])
        XCTAssertEqual(try FineTuneRun.checkpointDirectory(resuming: directory), directory + "/checkpoint-5")
        XCTAssertThrowsError(try makeRun(FineTuneRunTests.config(), FineTuneRunTests.sequences(2),
                                               options: .init(saveSteps: 1, checkpointDirectory: directory, saveTotalLimit: 0))) {
            XCTAssertTrue("\($0)".contains("--save-total-limit must be ≥ 1"), "\($0)")
        }
    }

    /// What a run killed in the middle of a save, a replacement or a removal leaves behind.
    func testLeftoversOfAKilledRunAreTidiedAndAMovedAsideCheckpointComesBack() throws {
        let directory = try temporaryDirectory()
        let run = try makeRun(FineTuneRunTests.config(maxSteps: 2), FineTuneRunTests.sequences(3),
                                    options: .init(saveSteps: 1, checkpointDirectory: directory))
        try run.run()
        let fm = FileManager.default
        // A process that has exited: its leftovers are fair game.
        let finished = Process()
        finished.executableURL = URL(fileURLWithPath: "/bin/sh")
        finished.arguments = ["-c", "exit 0"]
        try finished.run()
        finished.waitUntilExit()
        let dead = finished.processIdentifier
        // Killed between the two renames of replacing checkpoint-2: only the old copy exists.
        try fm.moveItem(atPath: directory + "/checkpoint-2", toPath: directory + "/.checkpoint-2.old-\(dead)")
        // Killed during the save of step 3 and during the removal of an old checkpoint.
        try fm.createDirectory(atPath: directory + "/.checkpoint-3.tmp-\(dead)", withIntermediateDirectories: false)
        try Data("{".utf8).write(to: URL(fileURLWithPath: directory + "/.checkpoint-3.tmp-\(dead)/trainer_state.json"))
        try fm.copyItem(atPath: directory + "/checkpoint-1", toPath: directory + "/.checkpoint-0.removing-\(dead)")
        // A save in progress in a live process (our parent) is not touched.
        let live = directory + "/.checkpoint-9.tmp-\(getppid())"
        try fm.createDirectory(atPath: live, withIntermediateDirectories: false)

        XCTAssertEqual(try FineTuneRun.checkpointDirectory(resuming: directory), directory + "/checkpoint-2")
        XCTAssertEqual(FineTuneRun.savedCheckpoints(in: directory).map(\.step), [1, 2])
        XCTAssertEqual(try hiddenEntries(directory), [".checkpoint-9.tmp-\(getppid())"])
        let resumed = try makeRun(FineTuneRunTests.config(maxSteps: 2), FineTuneRunTests.sequences(3))
        try resumed.resume(from: directory + "/checkpoint-2")
        XCTAssertEqual(resumed.step, 2)
    }
}
