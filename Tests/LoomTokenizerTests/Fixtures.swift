import Foundation
import XCTest

/// One test string with the ids an independent tokenizer produced for it.
struct TokenizerCase: Decodable {
    let text: String
    /// Ids with special-token parsing.
    let ids: [Int]
    /// Ids without special-token parsing, when they differ.
    let ids_plain: [Int]?
    /// The reference decoding of `ids`.
    let decoded: String
}

/// `tokenizer_smollm.json` / `tokenizer_qwen2.json`.
struct GGUFTokenizerFixture: Decodable {
    let model: String
    let pre: String
    let cases: [TokenizerCase]
}

/// `tokenizer_llama3.json`: a reachable slice of Meta's Llama 3 vocabulary plus expected ids.
struct Llama3Fixture: Decodable {
    struct Added: Decodable {
        let id: Int
        let content: String
        let special: Bool
    }
    let vocab_size: Int
    let vocab: [String: Int]
    let merges: [String]
    let added_tokens: [Added]
    let cases: [TokenizerCase]
}

/// `unicode_classes.json`: run-length regex classes of every code point (Python unicodedata).
struct UnicodeClassFixture: Decodable {
    let unicode_version: String
    let runs: String
}

enum Fixtures {
    static func load<T: Decodable>(_ name: String, as type: T.Type) throws -> T {
        guard let url = Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Fixtures") else {
            throw FixtureMissing(name: name)
        }
        return try JSONDecoder().decode(T.self, from: Data(contentsOf: url))
    }

    struct FixtureMissing: Error, CustomStringConvertible {
        let name: String
        var description: String { "fixture Fixtures/\(name).json is not in the test bundle" }
    }
}

/// Byte-exact string comparison. Swift's `==` on String is canonical equivalence, which would
/// hide exactly the NFC differences a tokenizer test must see.
func XCTAssertSameBytes(_ a: String, _ b: String, _ message: @autoclosure () -> String = "",
                        file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(Array(a.utf8), Array(b.utf8), message(), file: file, line: line)
}
