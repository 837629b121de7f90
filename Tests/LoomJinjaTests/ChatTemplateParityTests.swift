import Foundation
import XCTest
@testable import LoomJinja

/// Byte-for-byte parity with Python jinja2 under Hugging Face's chat-template environment.
/// Fixtures come from scripts/gen_template_fixtures.py (transformers' own template compiler).
final class ChatTemplateParityTests: XCTestCase {
    /// The generator's fixed `strftime_now` clock: 2026-03-05 14:07:09 (rendered here in UTC).
    static let fixedDate: Date = {
        var c = DateComponents()
        (c.year, c.month, c.day, c.hour, c.minute, c.second) = (2026, 3, 5, 14, 7, 9)
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = TimeZone(identifier: "UTC")!
        return cal.date(from: c)!
    }()
    static let utc = TimeZone(identifier: "UTC")!

    static func loadFixture(_ name: String) throws -> JinjaValue {
        guard let url = Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Fixtures") else {
            throw Fixtures.FixtureMissing(name: name)
        }
        // JinjaValue keeps key order, which tojson output depends on.
        return try JinjaValue(jsonData: Data(contentsOf: url))
    }

    private func string(_ v: JinjaValue?) -> String? {
        if case .string(let s)? = v { return s }
        return nil
    }

    private func array(_ v: JinjaValue?) -> [JinjaValue] {
        if case .array(let a)? = v { return a }
        return []
    }

    /// Checks one rendered result (or thrown error) against the fixture's expectation.
    private func check(_ label: String, _ expectation: JinjaValue, _ body: () throws -> String) -> Bool {
        if let expected = string(expectation["expected"]) {
            do {
                let got = try body()
                if Array(got.utf8) != Array(expected.utf8) {
                    XCTFail("\(label): output differs from jinja2\n--- expected\n\(expected.debugDescription)\n--- got\n\(got.debugDescription)")
                    return false
                }
                return true
            } catch {
                XCTFail("\(label): threw \(error), expected output \(expected.debugDescription)")
                return false
            }
        }
        guard let error = expectation["error"] else {
            XCTFail("\(label): fixture has neither expected nor error")
            return false
        }
        do {
            let got = try body()
            XCTFail("\(label): rendered \(got.debugDescription) but jinja2 raised \(string(error["type"]) ?? "?"): \(string(error["message"]) ?? "")")
            return false
        } catch let e as TemplateError {
            if error["raised"] == .bool(true) {
                XCTAssertEqual(e.kind, .raised, "\(label): \(e)")
                XCTAssertEqual(e.message, string(error["message"]), label)
                return e.kind == .raised && e.message == string(error["message"])
            }
            XCTAssertNotEqual(e.kind, .raised, "\(label): \(e)")
            XCTAssertGreaterThan(e.line, 0, "\(label): error without a template position: \(e)")
            return true
        } catch {
            XCTFail("\(label): threw a non-TemplateError \(error)")
            return false
        }
    }

    func testRealChatTemplatesMatchJinja2() throws {
        let fixture = try Self.loadFixture("chat_templates")
        var passed = 0, total = 0, raised = 0
        var templatesSeen: [String] = []
        for template in array(fixture["templates"]) {
            let name = string(template["name"])!
            templatesSeen.append(name)
            let chat = try ChatTemplate(source: string(template["source"])!)
            let bos = string(template["bos_token"])!, eos = string(template["eos_token"])!
            let cases = array(template["cases"])
            XCTAssertGreaterThanOrEqual(cases.count, 10, "\(name) needs at least 10 conversations")
            for c in cases {
                total += 1
                if c["error"]?["raised"] == .bool(true) { raised += 1 }
                let label = "\(name)/\(string(c["name"])!)"
                var extra: [String: JinjaValue] = [:]
                if case .object(let pairs)? = c["extra"] { for (k, v) in pairs { extra[k] = v } }
                let tools: [JinjaValue]? = c["tools"] == .null ? nil : array(c["tools"])
                let ok = check(label, c) {
                    try chat.render(messages: array(c["messages"]), tools: tools, addGenerationPrompt: c["add_generation_prompt"] == .bool(true),
                                    extra: extra, bosToken: bos, eosToken: eos, date: Self.fixedDate, timeZone: Self.utc)
                }
                if ok { passed += 1 }
            }
        }
        for required in ["smollm2", "qwen2.5", "llama3", "llama3.1", "llama3.2", "hermes3", "mistral-nemo", "gemma2", "phi3.5",
                         "deepseek-r1", "zephyr", "chatml", "qwen3", "gemma3"] {
            XCTAssertTrue(templatesSeen.contains(required), "fixture lacks template \(required)")
        }
        XCTAssertGreaterThan(raised, 5, "fixture should exercise raise_exception")
        XCTAssertEqual(passed, total)
        print("chat template parity: \(passed)/\(total) cases byte-identical to jinja2 (\(raised) raise_exception cases)")
    }

    func testLanguageFeaturesMatchJinja2() throws {
        let fixture = try Self.loadFixture("jinja_features")
        var passed = 0, total = 0
        for c in array(fixture["cases"]) {
            total += 1
            let label = "feature/\(string(c["name"])!)"
            var context: [String: JinjaValue] = [:]
            if case .object(let pairs)? = c["context"] { for (k, v) in pairs { context[k] = v } }
            let ok = check(label, c) {
                try ChatTemplate(source: string(c["template"])!).render(context: context, date: Self.fixedDate, timeZone: Self.utc)
            }
            if ok { passed += 1 }
        }
        XCTAssertGreaterThan(total, 40)
        XCTAssertEqual(passed, total)
        print("jinja feature parity: \(passed)/\(total) cases")
    }

    /// Seeded random expressions (literals, operators, filters, tests, methods) printed with {{ }}.
    func testRandomExpressionsMatchJinja2() throws {
        let fixture = try Self.loadFixture("jinja_random")
        var context: [String: JinjaValue] = [:]
        if case .object(let pairs)? = fixture["context"] { for (k, v) in pairs { context[k] = v } }
        var passed = 0, total = 0
        for c in array(fixture["cases"]) {
            total += 1
            let source = string(c["template"])!
            if check("random/\(source)", c, { try ChatTemplate(source: source).render(context: context) }) { passed += 1 }
        }
        XCTAssertGreaterThan(total, 1500)
        XCTAssertEqual(passed, total)
        print("random expression parity: \(passed)/\(total) cases")
    }
}
