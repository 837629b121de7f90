import Foundation
import XCTest

/// `loom run` / `loom chat` with `--grammar`, `--grammar-file` and `--json-schema`.
final class GrammarCLITests: XCTestCase {
    func loom(_ arguments: String...) throws -> LoomProcess.Output {
        try LoomProcess.run(arguments)
    }

    func temporaryFile(_ name: String, _ text: String) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("loom-grammar-\(UUID().uuidString)-\(name)")
        try Data(text.utf8).write(to: url)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url.path
    }

    func testJSONSchemaAndGrammarFileConstrainTheOutput() throws {
        let schema = try temporaryFile("schema.json", """
            {"type": "object", "properties": {"city": {"type": "string", "maxLength": 20},
             "population": {"type": "integer"}}, "required": ["city", "population"], "additionalProperties": false}
            """)
        let r = try loom("run", "-p", "Give the capital of France and its population as JSON.", "--json-schema", schema,
                         "--temperature", "0.7", "--seed", "3", "--max-tokens", "60")
        XCTAssertEqual(r.status, 0, r.stderr)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout)
        XCTAssertEqual(Set(object.keys), ["city", "population"], r.stdout)
        XCTAssertNotNil(object["population"] as? Int, r.stdout)

        let gbnf = try temporaryFile("answer.gbnf", "# yes or no, then a period\nroot ::= (\"Yes\" | \"No\") \".\"\n")
        let yn = try loom("run", "-p", "Is Paris in France?", "--grammar-file", gbnf, "--temperature", "0")
        XCTAssertEqual(yn.status, 0, yn.stderr)
        XCTAssertTrue(["Yes.\n", "No.\n"].contains(yn.stdout), yn.stdout)

        let chat = try loom("chat", "-p", "Pick a number.", "--grammar", "root ::= [1-9] [0-9]?", "--temperature", "0")
        XCTAssertEqual(chat.status, 0, chat.stderr)
        XCTAssertNotNil(chat.stdout.range(of: #"^[1-9][0-9]?\n*$"#, options: .regularExpression), chat.stdout)
    }

    func testBadGrammarsAreClearErrors() throws {
        let bad = try temporaryFile("bad.gbnf", "root ::= item\nitem ::= \"a\" |\n  (\"b\"\n")
        let r = try loom("run", "-p", "hi", "--grammar-file", bad)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("--grammar-file") && r.stderr.contains("line 3"), r.stderr)

        let left = try loom("run", "-p", "hi", "--grammar", "root ::= root \"x\" | \"y\"")
        XCTAssertNotEqual(left.status, 0)
        XCTAssertTrue(left.stderr.contains("left-recursive"), left.stderr)

        let schema = try temporaryFile("s.json", #"{"type": "integer", "multipleOf": 3}"#)
        let s = try loom("run", "-p", "hi", "--json-schema", schema)
        XCTAssertNotEqual(s.status, 0)
        XCTAssertTrue(s.stderr.contains("unsupported keyword 'multipleOf'"), s.stderr)

        let both = try loom("run", "-p", "hi", "--json-schema", schema, "--grammar", "root ::= \"a\"")
        XCTAssertNotEqual(both.status, 0)
        XCTAssertTrue(both.stderr.contains("exclude each other"), both.stderr)

        let missing = try loom("run", "-p", "hi", "--json-schema", "/no/such/schema.json")
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("cannot read /no/such/schema.json"), missing.stderr)
    }
}
