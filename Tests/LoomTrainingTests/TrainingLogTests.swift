import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest
@testable import LoomTraining

/// The JSONL training log (append, torn last line, resume trimming) and the SVG loss curve.
final class TrainingLogTests: XCTestCase {
    private var path: String!

    override func setUp() {
        path = NSTemporaryDirectory() + "loom-log-\(UUID().uuidString).jsonl"
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: path)
    }

    private func entry(_ step: Int, _ loss: Double, eval: Double? = nil) -> TrainingLogEntry {
        TrainingLogEntry(step: step, loss: loss, learningRate: 1e-4 * Double(step), gradNorm: 0.5, tokensPerSecond: 400, epoch: 0.1, evalLoss: eval)
    }

    func testLinesAndRoundTrip() throws {
        let log = try TrainingLogWriter(path: path)
        try log.append(entry(1, 2.5))
        try log.append(TrainingLogEntry(step: 2, loss: .nan, learningRate: 2e-4, tokensPerSecond: 390.5))
        let text = try String(contentsOfFile: path, encoding: .utf8)
        XCTAssertEqual(text, """
            {"step":1,"loss":2.5,"lr":0.0001,"grad_norm":0.5,"tokens_per_s":400.0,"epoch":0.1}
            {"step":2,"loss":null,"lr":0.0002,"tokens_per_s":390.5}

            """)
        XCTAssertEqual(try TrainingLogWriter.read(path: path),
                       [entry(1, 2.5), TrainingLogEntry(step: 2, loss: .nan, learningRate: 2e-4, tokensPerSecond: 390.5)])
    }

    func testTornLastLineIsIgnoredAndResumeTrims() throws {
        let log = try TrainingLogWriter(path: path)
        for step in 1...5 { try log.append(entry(step, 3 - Double(step) * 0.1)) }
        // A crash mid-write: a partial line without its newline.
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("{\"step\":6,\"lo".utf8))
        try handle.close()
        XCTAssertEqual(try TrainingLogWriter.read(path: path).map(\.step), [1, 2, 3, 4, 5])

        // Resuming from the checkpoint of step 3 drops steps 4, 5 and the torn line.
        let resumed = try TrainingLogWriter(path: path, resumingAfter: 3)
        try resumed.append(entry(4, 9))
        XCTAssertEqual(try TrainingLogWriter.read(path: path).map(\.step), [1, 2, 3, 4])
        XCTAssertEqual(try TrainingLogWriter.read(path: path).last?.loss, 9)
    }

    func testMalformedLineIsNamed() throws {
        try "{\"step\":1,\"loss\":1,\"lr\":0,\"tokens_per_s\":1}\n{\"step\":\"two\"}\n".write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try TrainingLogWriter.read(path: path)) { error in
            XCTAssertEqual("\(error)", "\(path!): line 2: \"step\" must be a whole number ≥ 0")
        }
    }

    func testTicks() {
        XCTAssertEqual(LossCurveSVG.ticks(0, 100), [0, 20, 40, 60, 80, 100])
        XCTAssertEqual(LossCurveSVG.ticks(1.23, 2.71), [1.5, 2, 2.5])
        XCTAssertEqual(LossCurveSVG.ticks(1, 1), [1])
        XCTAssertEqual(LossCurveSVG.label(20), "20")
        XCTAssertEqual(LossCurveSVG.label(0.25), "0.25")
    }

    /// Well-formed XML whose polyline maps the first step to the left edge and the lowest loss
    /// to the bottom of the plot; a NaN point is left out; the eval series gets its own line.
    func testSVGIsWellFormedAndPlotsThePoints() throws {
        var entries = (1...10).map { entry($0, 3.0 / Double($0)) }
        entries[4].loss = .nan
        entries[9].evalLoss = 0.5
        entries[4].evalLoss = 0.9
        var svg = LossCurveSVG(entries: entries, title: "SmolLM2 <LoRA> & \"r=8\"")
        svg.width = 400
        svg.height = 300
        let text = svg.text

        final class Collector: NSObject, XMLParserDelegate {
            var polylines: [String] = []
            var texts: [String] = []
            var current = ""
            func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
                if name == "polyline", let points = attributes["points"] { polylines.append(points) }
                current = ""
            }
            func parser(_ parser: XMLParser, foundCharacters string: String) { current += string }
            func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
                if name == "text" { texts.append(current) }
            }
        }
        let parser = XMLParser(data: Data(text.utf8))
        let collector = Collector()
        parser.delegate = collector
        XCTAssertTrue(parser.parse(), "not well-formed: \(String(describing: parser.parserError))")
        XCTAssertEqual(collector.polylines.count, 2)
        XCTAssertTrue(collector.texts.contains("SmolLM2 <LoRA> & \"r=8\""))
        XCTAssertTrue(collector.texts.contains("train loss"))
        XCTAssertTrue(collector.texts.contains("eval loss"))

        let points = collector.polylines[0].split(separator: " ").map { pair -> (Double, Double) in
            let xy = pair.split(separator: ",").map { Double($0)! }
            return (xy[0], xy[1])
        }
        XCTAssertEqual(points.count, 9)  // the NaN step is left out
        XCTAssertEqual(points[0].0, svg.margin.left, accuracy: 0.01)
        XCTAssertEqual(points.last!.0, svg.width - svg.margin.right, accuracy: 0.01)
        // Loss falls, so y (downwards in SVG) grows along the curve.
        XCTAssertTrue(zip(points, points.dropFirst()).allSatisfy { $0.1 < $1.1 })
        XCTAssertLessThan(points.last!.1, svg.height - svg.margin.bottom)
        XCTAssertGreaterThan(points[0].1, svg.margin.top)
    }
}
