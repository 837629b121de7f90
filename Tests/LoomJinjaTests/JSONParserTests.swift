import Foundation
import XCTest
@testable import LoomJinja

/// The strict JSON reader behind the Hugging Face loaders and chat templates, against values
/// fixed by RFC 8259.
final class JSONParserTests: XCTestCase {
    private func parse(_ text: String) throws -> JSONValue { try JSONParser.parse(Array(text.utf8)) }

    func testScalarsAndEscapes() throws {
        let doc = #"{"s": "a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00\u0000", "raw": "é😀", "i": -42, "z": 0,"#
            + #" "d": 2.5e-3, "big": 1000000000000000019884624838656, "t": true, "f": false, "n": null,"#
            + #" "a": [], "o": {}, "dup": 1, "dup": 2}"#
        guard case .object(let o) = try parse(doc) else { return XCTFail("not an object") }
        guard case .string(let s)? = o["s"] else { return XCTFail("s") }
        XCTAssertEqual(Array(s.unicodeScalars.map(\.value)),
                       [0x61, 0x22, 0x62, 0x5C, 0x63, 0x2F, 0x64, 0x08, 0x0C, 0x0A, 0x0D, 0x09, 0xE9, 0x1F600, 0])
        guard case .string(let raw)? = o["raw"] else { return XCTFail("raw") }
        XCTAssertEqual(Array(raw.utf8), Array("é😀".utf8))
        guard case .integer(-42)? = o["i"], case .integer(0)? = o["z"] else { return XCTFail("integers") }
        guard case .number(let d)? = o["d"], case .number(let big)? = o["big"] else { return XCTFail("numbers") }
        XCTAssertEqual(d, 0.0025)
        XCTAssertEqual(big, 1e30)
        guard case .bool(true)? = o["t"], case .bool(false)? = o["f"], case .null? = o["n"] else { return XCTFail("literals") }
        guard case .array(let a)? = o["a"], a.isEmpty, case .object(let e)? = o["o"], e.isEmpty else { return XCTFail("containers") }
        guard case .integer(2)? = o["dup"] else { return XCTFail("a repeated key keeps the last value") }
    }

    func testRejectsWhatRFC8259Rejects() {
        for bad in ["", "{", "[1,]", "{\"a\":1,}", "01", "1.", ".5", "-", "+1", "1e", "'a'", "\"a", "\"\\x\"", "\"\\u12\"",
                    "\"\t\"", "tru", "nul", "{\"a\" 1}", "{1: 2}", "[1 2]", "\"\\udc00\"", "\"\\ud800x\"", "1e999", "[] []"] {
            XCTAssertThrowsError(try parse(bad), bad.debugDescription)
        }
    }
}
