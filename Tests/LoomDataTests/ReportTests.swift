import Foundation
import XCTest
@testable import LoomData

final class ReportTests: XCTestCase {
    func testReportGathersStagesAndDrawsHistogram() throws {
        let dir = try temporaryFolder(self)
        try write("one two three\n", to: dir + "/in/a.txt")
        try write(String(repeating: "word ", count: 100), to: dir + "/in/b.txt")
        _ = try DocumentIngester().run(paths: [dir + "/in"], output: dir + "/docs.jsonl")
        _ = try CorpusScrubber().run(input: dir + "/docs.jsonl", output: dir + "/scrubbed.jsonl")
        let report = try CorpusReport(files: [dir + "/docs.jsonl", dir + "/scrubbed.jsonl"])
        XCTAssertEqual(report.stages.map(\.stage), ["ingest", "scrub"])
        XCTAssertEqual(report.histogram.counts, [0, 1, 0, 0, 0, 0, 1])
        try report.write(to: dir + "/report")
        let markdown = try String(contentsOfFile: dir + "/report/report.md", encoding: .utf8)
        XCTAssertTrue(markdown.contains("| ingest | `docs.jsonl` | 2 | 2 |"))
        let svg = try String(contentsOfFile: dir + "/report/length_histogram.svg", encoding: .utf8)
        XCTAssertTrue(svg.hasPrefix("<svg"))
        XCTAssertEqual(svg.components(separatedBy: "<rect x=").count - 1, 7)
        XCTAssertThrowsError(try CorpusReport(files: [dir + "/in/a.txt"])) { XCTAssertTrue("\($0)".contains("sidecar")) }
    }
}
