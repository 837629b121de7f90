import Foundation
import LoomJinja
import XCTest
@testable import LoomGeneration

/// JSON Schema → GBNF against the `jsonschema` package: fixture documents it calls valid are
/// accepted and those it calls invalid are rejected (scripts/gen_json_schema_fixtures.py), and
/// documents generated from the grammars by random walks all validate (the script's --check).
final class JSONSchemaGrammarTests: XCTestCase {
    struct Case {
        let name: String
        let schema: JSONValue
        let valid: [String]
        let invalid: [String]
    }

    static func cases() throws -> [Case] {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/json_schema_cases", withExtension: "json"))
        guard case .array(let list) = try JSONParser.parse(Array(try Data(contentsOf: url))) else {
            throw GrammarError("fixture is not a list")
        }
        return list.map { item in
            guard case .object(let o) = item, case .string(let name)? = o["name"], let schema = o["schema"],
                  case .array(let valid)? = o["valid"], case .array(let invalid)? = o["invalid"]
            else { fatalError("malformed fixture entry") }
            func strings(_ a: [JSONValue]) -> [String] {
                a.map { if case .string(let s) = $0 { return s } else { fatalError("fixture text") } }
            }
            return Case(name: name, schema: schema, valid: strings(valid), invalid: strings(invalid))
        }
    }

    func testFixturesAcceptValidAndRejectInvalid() throws {
        let cases = try Self.cases()
        XCTAssertGreaterThanOrEqual(cases.count, 30)
        for c in cases {
            let grammar: Grammar
            do {
                grammar = try JSONSchemaGrammar.grammar(for: c.schema)
            } catch {
                XCTFail("\(c.name): \(error)")
                continue
            }
            let matcher = GrammarMatcher(grammar: grammar)
            for text in c.valid {
                XCTAssertTrue(matcher.matches(text), "\(c.name): valid \(text) rejected\n\(grammar.source)")
            }
            for text in c.invalid {
                XCTAssertFalse(matcher.matches(text), "\(c.name): invalid \(text) accepted\n\(grammar.source)")
            }
        }
    }

    /// Random sentences of every case's grammar, validated by the `jsonschema` package.
    func testRandomDocumentsValidateWithJSONSchemaPackage() throws {
        let cases = try Self.cases()
        var rng = Xoshiro256StarStar(seed: 2024)
        var batches: [[String: Any]] = []
        var total = 0
        for c in cases {
            let grammar = try JSONSchemaGrammar.grammar(for: c.schema)
            var documents: [String] = []
            var attempts = 0
            while documents.count < 25 && attempts < 200 {
                attempts += 1
                if let doc = Self.randomSentence(grammar, rng: &rng) { documents.append(doc) }
            }
            XCTAssertGreaterThanOrEqual(documents.count, 25, "\(c.name): random walks did not end")
            total += documents.count
            batches.append(["case": c.name, "documents": documents])
        }
        let report = try Self.validateWithPython(batches)
        XCTAssertTrue(report.contains("checked \(total) documents, 0 bad"), report)
    }

    /// Runs `scripts/gen_json_schema_fixtures.py --check` on `[{"case", "documents"}]` and
    /// returns its report; fails the test if the script fails (python3 with `jsonschema`
    /// installed is needed: `pip install jsonschema`).
    static func validateWithPython(_ batches: [[String: Any]], file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/gen_json_schema_fixtures.py")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path, "--check"]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = output
        try process.run()
        input.fileHandleForWriting.write(try JSONSerialization.data(withJSONObject: batches))
        try input.fileHandleForWriting.close()
        let report = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0,
                       "documents failed validation (needs python3 with `pip install jsonschema`):\n\(report)", file: file, line: line)
        return report
    }

    /// A random sentence of `grammar`: random allowed characters, preferring to close strings,
    /// arrays and objects as the text grows, ending at a random point where it may end.
    static func randomSentence(_ grammar: Grammar, rng: inout Xoshiro256StarStar) -> String? {
        var matcher = GrammarMatcher(grammar: grammar)
        let units: [[UInt8]] = (0x20...0x7E).map { [UInt8($0)] } + [[0x0A], Array("é".utf8), Array("€".utf8)]
        let closers: [[UInt8]] = [[0x22], [0x7D], [0x5D]]
        var text: [UInt8] = []
        while text.count < 3000 {
            if matcher.canEnd && (matcher.mustEnd || rng.nextUnitDouble() < 0.3) {
                return String(decoding: text, as: UTF8.self)
            }
            let long = text.count > 40
            let preferred = long ? closers.filter { matcher.accepts($0) } : []
            let pool = !preferred.isEmpty && rng.nextUnitDouble() < 0.8 ? preferred : units.filter { matcher.accepts($0) }
            guard !pool.isEmpty else { return nil }
            let unit = pool[Int(rng.next() % UInt64(pool.count))]
            matcher.accept(unit)
            text += unit
        }
        return nil
    }

    func testUnsupportedKeywordsAreNamed() {
        func message(_ schema: String) -> String {
            do {
                _ = try JSONSchemaGrammar.grammar(forSchemaText: schema)
                return "compiled"
            } catch {
                return "\(error)"
            }
        }
        XCTAssertTrue(message(#"{"type": "integer", "minimum": 0}"#).contains("unsupported keyword 'minimum'"))
        XCTAssertTrue(message(#"{"allOf": [{"type": "string"}]}"#).contains("unsupported keyword 'allOf'"))
        let nested = message(#"{"type": "object", "properties": {"a": {"type": "array", "uniqueItems": true}}}"#)
        XCTAssertTrue(nested.contains("unsupported keyword 'uniqueItems'") && nested.contains("/properties/a"), nested)
        XCTAssertTrue(message(#"{"$ref": "https://example.com/s.json"}"#).contains("not a local"))
        XCTAssertTrue(message(#"{"type": "string", "pattern": "^(?=a)b$"}"#).contains("lookaround"))
        XCTAssertTrue(message(#"{"type": "strin"}"#).contains("unknown type 'strin'"))
        XCTAssertTrue(message(#"{"type": "array", "minItems": 3, "maxItems": 1}"#).contains("maxItems"))
        XCTAssertTrue(message("{not json").contains("not valid JSON"))
        XCTAssertTrue(message("false").contains("accepts no document"))
    }

    func testAnyObjectGrammar() {
        let matcher = GrammarMatcher(grammar: JSONSchemaGrammar.anyObject)
        XCTAssertTrue(matcher.matches(#"{"a": [1, 2.5e3, "x", null, true, {"b": {}}]}"#))
        XCTAssertTrue(matcher.matches("{}"))
        XCTAssertFalse(matcher.matches("[]"))
        XCTAssertFalse(matcher.matches(#"{"a": 01}"#))
        XCTAssertFalse(matcher.matches(#"{"a" 1}"#))
        XCTAssertFalse(matcher.matches(#"{"a": "\x"}"#))
    }
}
