import Foundation
import XCTest
@testable import LoomJinja

/// Errors with positions, guards against hostile templates, and the public value API.
/// Output parity with jinja2 is covered by ChatTemplateParityTests.
final class JinjaTemplateTests: XCTestCase {
    private func render(_ source: String, _ context: [String: JinjaValue] = [:]) throws -> String {
        try ChatTemplate(source: source).render(context: context)
    }

    /// Asserts that parsing or rendering fails at the given 1-based line and column.
    private func assertError(_ source: String, _ context: [String: JinjaValue] = [:], kind: TemplateError.Kind,
                             line: Int, column: Int, contains fragment: String,
                             file: StaticString = #filePath, lineNumber: UInt = #line) {
        do {
            let out = try render(source, context)
            XCTFail("expected an error, rendered \(out.debugDescription)", file: file, line: lineNumber)
        } catch let e as TemplateError {
            XCTAssertEqual(e.kind, kind, "\(e)", file: file, line: lineNumber)
            XCTAssertEqual(e.line, line, "line of \(e)", file: file, line: lineNumber)
            XCTAssertEqual(e.column, column, "column of \(e)", file: file, line: lineNumber)
            XCTAssertTrue(e.message.contains(fragment), "\(e.message) lacks \(fragment)", file: file, line: lineNumber)
            XCTAssertTrue(e.description.contains("line \(line), column \(column)"), e.description, file: file, line: lineNumber)
        } catch {
            XCTFail("unexpected error type \(error)", file: file, line: lineNumber)
        }
    }

    // MARK: - Syntax errors

    func testSyntaxErrorsNameLineAndColumn() {
        // "{{ 1 + }}": the '}}' after '+' is at column 8 of line 2.
        assertError("line one\n{{ 1 + }}", kind: .syntax, line: 2, column: 8, contains: "unexpected '}}'")
        // Unclosed block: the error points at the end of the template.
        assertError("{% if true %}\nnever closed", kind: .syntax, line: 2, column: 13, contains: "'endif'")
        assertError("{{ 'abc }}", kind: .syntax, line: 1, column: 4, contains: "unterminated string")
        assertError("ok\n  {% foo %}", kind: .syntax, line: 2, column: 6, contains: "unknown tag 'foo'")
        assertError("x {# never closed", kind: .syntax, line: 1, column: 3, contains: "comment")
        assertError("{{ a $ b }}", kind: .syntax, line: 1, column: 6, contains: "unexpected character '$'")
        assertError("{{ (1 ]}}", kind: .syntax, line: 1, column: 7, contains: "unexpected ']'")
        assertError("{% for x in y %}{% endif %}", kind: .syntax, line: 1, column: 20, contains: "unknown tag 'endif'")
        assertError("{% break %}", kind: .syntax, line: 1, column: 4, contains: "outside of a for loop")
        assertError("{% set true = 1 %}", kind: .syntax, line: 1, column: 8, contains: "cannot assign")
        assertError("{{ x is }}", kind: .syntax, line: 1, column: 9, contains: "expected a name")
        assertError("{{ f(a=1, 2) }}", kind: .syntax, line: 1, column: 11, contains: "positional argument follows keyword")
        assertError("{{ x }", kind: .syntax, line: 1, column: 6, contains: "unexpected '}'")
        assertError("{{ x ", kind: .syntax, line: 1, column: 1, contains: "missing end of expression tag")
    }

    func testParseErrorsDoNotDependOnRendering() {
        XCTAssertThrowsError(try ChatTemplate(source: "{% for %}"))
        XCTAssertThrowsError(try ChatTemplate(source: "{% macro m(a=1, b) %}{% endmacro %}"))
        XCTAssertThrowsError(try ChatTemplate(source: "{% raw %}never ends"))
        XCTAssertNoThrow(try ChatTemplate(source: "{% if x %}{% endif %}"))
    }

    // MARK: - Runtime errors

    func testRuntimeErrorsNameLineAndColumn() {
        // "  b {{ x | foo }}": the filter name starts at column 12.
        assertError("a\n  b {{ x | foo }}", ["x": 1], kind: .runtime, line: 2, column: 12, contains: "unknown filter 'foo'")
        assertError("{{ x is frobbed }}", ["x": 1], kind: .runtime, line: 1, column: 6, contains: "unknown test 'frobbed'")
        // Attribute of an undefined variable fails like jinja2's Undefined, at the '.'.
        assertError("{{ nope.attr }}", kind: .runtime, line: 1, column: 8, contains: "'nope' is undefined")
        assertError("\n\n   {{ 'a' + 1 }}", kind: .runtime, line: 3, column: 11, contains: "can only concatenate str")
        assertError("{% for x in 5 %}{% endfor %}", kind: .runtime, line: 1, column: 13, contains: "'int' object is not iterable")
        assertError("{% for a, b in [[1, 2, 3]] %}{% endfor %}", kind: .runtime, line: 1, column: 4, contains: "too many values to unpack")
        assertError("{{ 1 // 0 }}", kind: .runtime, line: 1, column: 6, contains: "division or modulo by zero")
        assertError("{{ [].append(1) }}", kind: .runtime, line: 1, column: 6, contains: "unsafe")
        assertError("{% set x = 1 %}{% set x.y = 2 %}", kind: .runtime, line: 1, column: 19, contains: "not a namespace")
        assertError("{{ range(1000000) }}", kind: .runtime, line: 1, column: 4, contains: "MAX_RANGE")
        assertError("{{ {1: 2} }}", kind: .runtime, line: 1, column: 5, contains: "string keys")
    }

    func testRaiseExceptionCarriesMessageAndPosition() {
        assertError("{% if x %}\n  {{ raise_exception('bad input: ' ~ x) }}{% endif %}", ["x": 7], kind: .raised, line: 2, column: 6,
                    contains: "bad input: 7")
        do {
            _ = try render("{{ raise_exception('exact message') }}")
            XCTFail("expected raise")
        } catch let e as TemplateError {
            XCTAssertEqual(e.message, "exact message")
            XCTAssertEqual(e.description, "template line 1, column 4: raise_exception: exact message")
        } catch {
            XCTFail("\(error)")
        }
    }

    // MARK: - Guards

    func testInfiniteMacroRecursionIsAnError() {
        assertError("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", kind: .runtime, line: 1, column: 20, contains: "recursed deeper")
    }

    func testDeepNestingIsAnErrorNotACrash() {
        let deepParens = "{{ " + String(repeating: "(", count: 500) + "1" + String(repeating: ")", count: 500) + " }}"
        XCTAssertThrowsError(try ChatTemplate(source: deepParens)) { error in
            XCTAssertEqual((error as? TemplateError)?.kind, .syntax)
        }
        let deepBlocks = String(repeating: "{% if true %}", count: 300) + String(repeating: "{% endif %}", count: 300)
        XCTAssertThrowsError(try ChatTemplate(source: deepBlocks))
        // Operator chains build deep trees; very long ones are refused instead of overflowing the stack.
        let longChain = "{{ " + Array(repeating: "1", count: 5000).joined(separator: " + ") + " }}"
        XCTAssertThrowsError(try ChatTemplate(source: longChain)) { error in
            XCTAssertEqual((error as? TemplateError)?.kind, .syntax)
        }
        XCTAssertEqual(try render("{{ " + Array(repeating: "1", count: 200).joined(separator: " + ") + " }}"), "200")
        let deepData = "{{ x | tojson }}"
        var nested: JinjaValue = 1
        for _ in 0..<300 { nested = .array([nested]) }
        XCTAssertEqual(try render(deepData, ["x": nested]).count, 601)
    }

    func testHugeRepetitionIsAnError() {
        XCTAssertThrowsError(try render("{{ 'abcdefgh' * 100000000 }}"))
    }

    // MARK: - Rendering API

    func testChatRenderDefaultsMatchTransformers() throws {
        let t = try ChatTemplate(source: "{{ tools is none }} {{ documents is none }} {{ add_generation_prompt }} [{{ bos_token }}|{{ eos_token }}] {{ messages | length }} {{ extra }}")
        let out = try t.render(messages: [["role": "user", "content": "hi"]], addGenerationPrompt: true, extra: ["extra": "E"],
                               bosToken: "<s>", eosToken: "</s>")
        XCTAssertEqual(out, "True True True [<s>|</s>] 1 E")
        let withTools = try t.render(messages: [], tools: [["type": "function"]], addGenerationPrompt: false)
        XCTAssertEqual(withTools, "False True False [|] 0 ")
    }

    func testStrftimeUsesInjectedDateAndTimeZone() throws {
        let t = try ChatTemplate(source: "{{ strftime_now('%d %b %Y %H:%M') }}")
        let date = Date(timeIntervalSince1970: 1_700_000_000)  // 2023-11-14 22:13:20 UTC
        XCTAssertEqual(try t.render(messages: [], addGenerationPrompt: false, date: date, timeZone: TimeZone(identifier: "UTC")!),
                       "14 Nov 2023 22:13")
        XCTAssertEqual(try t.render(messages: [], addGenerationPrompt: false, date: date, timeZone: TimeZone(secondsFromGMT: 3 * 3600)!),
                       "15 Nov 2023 01:13")
        // Without a date it formats the current time.
        let year = Calendar(identifier: .gregorian).component(.year, from: Date())
        XCTAssertEqual(try ChatTemplate(source: "{{ strftime_now('%Y') }}").render(messages: [], addGenerationPrompt: false), String(year))
    }

    func testParsedTemplateRendersRepeatedlyAndConcurrently() throws {
        let t = try ChatTemplate(source: "{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}{{ m.content }}{% endfor %}{{ ns.n }}")
        let messages: [JinjaValue] = (0..<20).map { .object([("role", "user"), ("content", .string("m\($0)"))]) }
        let expected = (0..<20).map { "m\($0)" }.joined() + "20"
        XCTAssertEqual(try t.render(messages: messages, addGenerationPrompt: false), expected)
        let results = UnsafeMutableBufferPointer<Bool>.allocate(capacity: 16)
        defer { results.deallocate() }
        DispatchQueue.concurrentPerform(iterations: 16) { i in
            results[i] = (try? t.render(messages: messages, addGenerationPrompt: false)) == expected
        }
        XCTAssertTrue(results.allSatisfy { $0 })
    }

    // MARK: - JinjaValue

    func testJSONParsingKeepsOrderAndNumberKinds() throws {
        let v = try JinjaValue(jsonString: #"{"z": 1, "a": [1.0, 2, -3e2, true, null, "\u00e9\ud83d\ude00\n"], "m": {"k": "v"}}"#)
        guard case .object(let pairs) = v else { return XCTFail("not an object") }
        XCTAssertEqual(pairs.map(\.0), ["z", "a", "m"])
        XCTAssertEqual(v["a"], [1.0, 2, -300.0, true, nil, "é😀\n"])
        XCTAssertEqual(try ChatTemplate(source: "{{ x | tojson }}").render(context: ["x": v]),
                       #"{"z": 1, "a": [1.0, 2, -300.0, true, null, "é😀\n"], "m": {"k": "v"}}"#)
    }

    func testMalformedJSONNamesThePosition() {
        XCTAssertThrowsError(try JinjaValue(jsonString: "{\n  \"a\": [1, 2,,]\n}")) { error in
            XCTAssertTrue("\(error)".contains("line 2, column 14"), "\(error)")
        }
        XCTAssertThrowsError(try JinjaValue(jsonString: "[1, 2"))
        XCTAssertThrowsError(try JinjaValue(jsonString: "01"))
        XCTAssertThrowsError(try JinjaValue(jsonString: "\"unterminated"))
        XCTAssertThrowsError(try JinjaValue(jsonString: "{} extra"))
    }

    func testFoundationObjectsConvert() throws {
        let data = Data(#"{"b": true, "i": 3, "d": 2.5, "s": "x", "n": null, "l": [false, 0]}"#.utf8)
        let object = try JSONSerialization.jsonObject(with: data)
        let v = try JinjaValue(jsonObject: object)
        XCTAssertEqual(v["b"], true)
        XCTAssertEqual(v["i"], 3)
        XCTAssertEqual(v["d"], 2.5)
        XCTAssertEqual(v["s"], "x")
        XCTAssertEqual(v["n"], .null)
        XCTAssertEqual(v["l"], [false, 0])
        XCTAssertEqual(try JinjaValue(jsonObject: ["k": [1, "two", true] as [Any]] as [String: Any]), ["k": [1, "two", true]])
        XCTAssertThrowsError(try JinjaValue(jsonObject: Date()))
    }
}
