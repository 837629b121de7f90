import Foundation
import XCTest

/// `loom embed`: JSON lines in input order, ids kept from JSONL records, the encoder and the
/// decoder paths, and clear errors for bad input.
final class EmbedCLITests: XCTestCase {
    func temporaryFile(_ name: String, _ text: String) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("loom-embed-\(UUID().uuidString)-\(name)")
        try Data(text.utf8).write(to: url)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url.path
    }

    func lines(_ text: String) throws -> [[String: Any]] {
        try text.split(separator: "\n").map { try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
    }

    func norm(_ line: [String: Any]) -> Double {
        ((line["embedding"] as? [Double]) ?? []).reduce(0) { $0 + $1 * $1 }.squareRoot()
    }

    func testEncoderAndDecoderEmbeddings() throws {
        let mini = try LoomProcess.run(["embed", "A shared ledger.", "A shared ledger.", "Le chat dort."])
        XCTAssertEqual(mini.status, 0, mini.stderr)
        let rows = try lines(mini.stdout)
        XCTAssertEqual(rows.map { $0["index"] as? Int }, [0, 1, 2])
        XCTAssertEqual((rows[0]["embedding"] as? [Double])?.count, 384)
        XCTAssertEqual(rows[0]["embedding"] as? [Double], rows[1]["embedding"] as? [Double])
        XCTAssertNotEqual(rows[0]["embedding"] as? [Double], rows[2]["embedding"] as? [Double])
        XCTAssertEqual(norm(rows[2]), 1, accuracy: 1e-5)

        let input = try temporaryFile("docs.jsonl", """
            {"id": "a", "text": "First document."}

            {"id": 7, "text": "Second document."}
            """)
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("loom-embed-\(UUID().uuidString).jsonl").path
        addTeardownBlock { try? FileManager.default.removeItem(atPath: output) }
        let decoder = try LoomProcess.run(["embed", "-m", "smollm2", "--pooling", "last", "--no-normalize", "-i", input, "-o", output])
        XCTAssertEqual(decoder.status, 0, decoder.stderr)
        XCTAssertEqual(decoder.stdout, "")
        let written = try lines(String(decoding: try Data(contentsOf: URL(fileURLWithPath: output)), as: UTF8.self))
        XCTAssertEqual(written.count, 2)
        XCTAssertEqual(written[0]["id"] as? String, "a")
        XCTAssertEqual(written[1]["id"] as? Int, 7)
        XCTAssertEqual((written[0]["embedding"] as? [Double])?.count, 576)
        XCTAssertGreaterThan(abs(norm(written[0]) - 1), 1e-2, "--no-normalize keeps the raw length")
    }

    func testBadInputIsAClearError() throws {
        let broken = try temporaryFile("broken.jsonl", "{\"text\": \"fine\"}\n{\"body\": \"no text\"}\n")
        let r = try LoomProcess.run(["embed", "-i", broken])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("line 2: no string field \"text\""), r.stderr)
        let long = try LoomProcess.run(["embed", "-m", "smollm2", "--ctx", "8", String(repeating: "word ", count: 20)])
        XCTAssertNotEqual(long.status, 0)
        XCTAssertTrue(long.stderr.contains("more than the embedding model's limit of 8"), long.stderr)
        let both = try LoomProcess.run(["embed", "-m", "smollm2", "--embedding-model", "minilm", "x"])
        XCTAssertNotEqual(both.status, 0)
        XCTAssertTrue(both.stderr.contains("not both"), both.stderr)
        let last = try LoomProcess.run(["embed", "--pooling", "last", "x"])
        XCTAssertNotEqual(last.status, 0)
        XCTAssertTrue(last.stderr.contains("decoder"), last.stderr)
        XCTAssertNotEqual(try LoomProcess.run(["embed"]).status, 0)
    }
}
