import XCTest
@testable import LoomJinja

/// Renders `source` with no variables except `context`, under `limits`.
func renderTemplate(_ source: String, limits: TemplateLimits = .standard, context: [String: JinjaValue] = [:]) throws -> String {
    try ChatTemplate(source: source, limits: limits).render(context: context)
}

/// Asserts that rendering (or parsing) fails with a `TemplateError` whose message contains
/// `fragment`, at template line `line` when given.
func assertTemplateError(_ source: String, limits: TemplateLimits = .standard, context: [String: JinjaValue] = [:],
                         contains fragment: String, line: Int? = nil,
                         file: StaticString = #filePath, sourceLine: UInt = #line) {
    do {
        let out = try renderTemplate(source, limits: limits, context: context)
        XCTFail("rendered \(out.utf8.count) bytes instead of failing: \(out.prefix(80)) for \(source.prefix(200))", file: file, line: sourceLine)
    } catch let error as TemplateError {
        XCTAssertTrue(error.message.contains(fragment), "\(error) for \(source.prefix(200))", file: file, line: sourceLine)
        if let line { XCTAssertEqual(error.line, line, "\(error)", file: file, line: sourceLine) }
    } catch {
        XCTFail("not a TemplateError: \(error)", file: file, line: sourceLine)
    }
}
