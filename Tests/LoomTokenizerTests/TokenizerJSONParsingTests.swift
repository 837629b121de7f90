import Foundation
import XCTest
import LoomJinja

/// The one JSON parser (LoomJinja's) on a real tokenizer.json, against Foundation's
/// JSONSerialization on the same text.
final class TokenizerJSONParsingTests: XCTestCase {
    /// Agrees with JSONSerialization on the real Llama 3 tokenizer.json (its vocabulary).
    func testMatchesFoundationOnRealFile() throws {
        let path = try TestModels.path("llama3-tokenizer")
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        guard case .object(let root) = try JSONParser.parse(Array(data)),
              case .object(let model)? = root["model"], case .object(let vocab)? = model["vocab"] else {
            return XCTFail("no model.vocab")
        }
        let reference = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        let referenceVocab = try XCTUnwrap((reference["model"] as? [String: Any])?["vocab"] as? [String: Any])
        XCTAssertEqual(vocab.count, referenceVocab.count)
        var mismatches = 0
        for (key, value) in referenceVocab {
            guard case .integer(let id)? = vocab[key], id == (value as? NSNumber)?.intValue else {
                mismatches += 1
                continue
            }
        }
        XCTAssertEqual(mismatches, 0)
    }
}
