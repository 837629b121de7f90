import Foundation
import XCTest
@testable import LoomJinja

/// Mutated real templates and hostile constructs must produce output or a `TemplateError`,
/// never a crash, a hang or another error type.
final class JinjaRobustnessTests: XCTestCase {
    /// Deterministic SplitMix64 so failures reproduce.
    private struct Random {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    }

    private static let fragments = [
        "{{", "}}", "{%", "%}", "{#", "#}", "-", "+", "(", ")", "[", "]", "'", "\"", "|", ".", " if ", " else ", " for ",
        " in ", "endif", "endfor", "loop.", "ns.", "%", "~", "**", "//", ",", ":", "{", "}", "\\", "\n", "x", "0", "1e5",
        "none", "raise_exception('e')", "range(99999)", "|tojson", "|items", " is ", " not ", "messages[-1]", "[::-1]",
        "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", "{% break %}", "\u{00e9}", "\r\n",
    ]

    func testMutatedTemplatesNeverCrash() throws {
        let fixture = try ChatTemplateParityTests.loadFixture("chat_templates")
        guard case .array(let templates)? = fixture["templates"] else { return XCTFail("fixture") }
        let messages: [JinjaValue] = [
            .message(role: "system", content: "sys"), .message(role: "user", content: "hi"),
            ["role": "assistant", "content": nil, "tool_calls": [["id": "abcdefghi", "type": "function",
                "function": ["name": "f", "arguments": ["a": 1]]]]],
            ["role": "tool", "tool_call_id": "abcdefghi", "content": "ok"], .message(role: "assistant", content: "done"),
        ]
        var rng = Random(state: 0x5EED)
        var rendered = 0, failed = 0
        for template in templates {
            guard case .string(let source)? = template["source"] else { continue }
            let original = Array(source.unicodeScalars)
            for _ in 0..<150 {
                var scalars = original
                for _ in 0..<(1 + rng.below(4)) {
                    let at = rng.below(scalars.count + 1)
                    switch rng.below(3) {
                    case 0:
                        let n = min(1 + rng.below(6), scalars.count - at)
                        if n > 0 { scalars.removeSubrange(at..<(at + n)) }
                    case 1:
                        scalars.insert(contentsOf: Self.fragments[rng.below(Self.fragments.count)].unicodeScalars, at: at)
                    default:
                        let from = rng.below(scalars.count + 1)
                        let n = min(rng.below(40), scalars.count - from)
                        scalars.insert(contentsOf: scalars[from..<(from + n)], at: at)
                    }
                }
                var text = String.UnicodeScalarView()
                text.append(contentsOf: scalars)
                do {
                    let t = try ChatTemplate(source: String(text))
                    _ = try t.render(messages: messages, tools: [["type": "function", "function": ["name": "f", "parameters": [
                        "type": "object", "properties": ["a": ["type": "integer", "description": "A"]]]]]],
                        addGenerationPrompt: true, bosToken: "<s>", eosToken: "</s>")
                    rendered += 1
                } catch is TemplateError {
                    failed += 1
                } catch {
                    XCTFail("non-TemplateError \(error) for template:\n\(String(text))")
                }
            }
        }
        XCTAssertGreaterThan(rendered, 100)
        XCTAssertGreaterThan(failed, 100)
        print("mutation fuzz: \(rendered) rendered, \(failed) rejected with TemplateError")
    }

    func testExponentialTemplatesHitTheBudget() {
        let exponential = "{% macro f(n) %}{% if n < 40 %}{{ f(n + 1) }}{{ f(n + 1) }}{% endif %}{% endmacro %}{{ f(0) }}"
        XCTAssertThrowsError(try ChatTemplate(source: exponential).render(context: [:])) { error in
            XCTAssertTrue("\(error)".contains("execution steps"), "\(error)")
        }
        let doubling = "{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}"
        XCTAssertThrowsError(try ChatTemplate(source: doubling).render(context: [:])) { error in
            XCTAssertTrue("\(error)".contains("larger than"), "\(error)")
        }
        XCTAssertThrowsError(try ChatTemplate(source: "{{ range(-9223372036854775807, 9223372036854775807) }}").render(context: [:]))
        XCTAssertThrowsError(try ChatTemplate(source: "{{ 'x'.center(99999999999) }}").render(context: [:]))
        XCTAssertThrowsError(try ChatTemplate(source: "{{ '%d' % 1e300 }}").render(context: [:]))
    }
}
