import Foundation
import XCTest
@testable import LoomGeneration
@testable import LoomServer

/// `grammar`, `json_schema` and `response_format` in request bodies: compiled into the
/// generation options, or a 400 naming the field and the problem.
final class GrammarRequestTests: XCTestCase {
    func chat(_ extra: String) throws -> ChatCompletionRequest {
        try APIRequestDecoder.chatCompletion(Data("""
            {"messages": [{"role": "user", "content": "hi"}]\(extra)}
            """.utf8), vocabularySize: 100)
    }

    func testGrammarFieldsCompile() throws {
        XCTAssertNil(try chat("").generation.options.grammar)
        XCTAssertNil(try chat(#", "response_format": {"type": "text"}"#).generation.options.grammar)

        let gbnf = try XCTUnwrap(try chat(##", "grammar": "root ::= \"yes\" | \"no\"" "##).generation.options.grammar)
        XCTAssertTrue(GrammarMatcher(grammar: gbnf).matches("no"))

        let object = try XCTUnwrap(try chat(#", "response_format": {"type": "json_object"}"#).generation.options.grammar)
        XCTAssertTrue(GrammarMatcher(grammar: object).matches(#"{"a": 1}"#))
        XCTAssertFalse(GrammarMatcher(grammar: object).matches("[1]"))

        // Property order follows the request's schema, not a dictionary's order.
        let schema = #"{"type": "object", "properties": {"zeta": {"type": "integer"}, "alpha": {"type": "string"}}, "required": ["zeta", "alpha"]}"#
        let strict = try XCTUnwrap(try chat(#", "response_format": {"type": "json_schema", "json_schema": {"name": "r", "strict": true, "schema": \#(schema)}}"#)
            .generation.options.grammar)
        XCTAssertTrue(GrammarMatcher(grammar: strict).matches(#"{"zeta": 1, "alpha": "a"}"#))
        XCTAssertFalse(GrammarMatcher(grammar: strict).matches(#"{"alpha": "a", "zeta": 1}"#))

        let llamaStyle = try XCTUnwrap(try APIRequestDecoder.completion(Data(#"{"prompt": "x", "json_schema": {"type": "boolean"}}"#.utf8),
                                                                       vocabularySize: 100).generation.options.grammar)
        XCTAssertTrue(GrammarMatcher(grammar: llamaStyle).matches("true"))
        let withSchema = try XCTUnwrap(try chat(#", "response_format": {"type": "json_object", "schema": {"type": "array"}}"#).generation.options.grammar)
        XCTAssertTrue(GrammarMatcher(grammar: withSchema).matches("[]"))
    }

    func testBadGrammarsAre400sNamingTheProblem() {
        let bodies: [(String, String, String)] = [
            (##", "grammar": "root ::= \"a" "##, "grammar", "unterminated string"),
            (##", "grammar": "root ::= root \"a\"" "##, "grammar", "left-recursive"),
            (##", "grammar": "start ::= \"a\"" "##, "grammar", "no 'root' rule"),
            (#", "grammar": 3"#, "grammar", "expected a string"),
            (#", "response_format": {"type": "xml"}"#, "response_format.type", "json_schema"),
            (#", "response_format": {}"#, "response_format.type", "required"),
            (#", "response_format": "json""#, "response_format", "expected an object"),
            (#", "response_format": {"type": "json_schema"}"#, "response_format.json_schema", "required"),
            (#", "response_format": {"type": "json_schema", "json_schema": {"name": "x"}}"#, "response_format.json_schema.schema", "required"),
            (#", "response_format": {"type": "json_schema", "json_schema": {"schema": {"type": "integer", "minimum": 1}}}"#,
             "response_format.json_schema.schema", "unsupported keyword 'minimum'"),
            (#", "response_format": {"type": "json_schema", "json_schema": {"strict": "yes", "schema": {}}}"#,
             "response_format.json_schema.strict", "true or false"),
            (#", "grammar": "root ::= \"a\"", "response_format": {"type": "json_object"}"#, "response_format", "cannot be combined with grammar"),
        ]
        for (extra, param, fragment) in bodies {
            XCTAssertThrowsError(try chat(extra), extra) { error in
                guard let api = error as? APIError else { return XCTFail("\(extra): \(error)") }
                XCTAssertEqual(api.status.code, 400, extra)
                XCTAssertEqual(api.param, param, extra)
                XCTAssertTrue(api.message.contains(fragment), "\(extra): \(api.message)")
            }
        }
    }
}
