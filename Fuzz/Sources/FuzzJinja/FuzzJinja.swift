import Foundation
import FuzzSupport
import LoomJinja

/// Arbitrary template text through the lexer, the parser and the interpreter, rendered with
/// a conversation like the server's (roles, tool calls, tools) and a fixed date. The
/// interpreter's ``TemplateLimits`` — here far below the defaults, so each input is cheap —
/// are what keeps hostile templates finite; libFuzzer's `-timeout` and `-rss_limit_mb` report
/// any template that gets past them.
private let message = JinjaValue.object([("role", .string("user")), ("content", .string("Hi <b>there</b> é"))])
private let toolCall = JinjaValue.object([
    ("role", .string("assistant")), ("content", .null),
    ("tool_calls", .array([.object([("type", .string("function")), ("function", .object([
        ("name", .string("get_weather")), ("arguments", .object([("city", .string("Paris"))])),
    ]))])])),
])
private let tool = JinjaValue.object([("type", .string("function")), ("function", .object([
    ("name", .string("get_weather")), ("description", .string("Weather")),
    ("parameters", .object([("type", .string("object")), ("properties", .object([("city", .object([("type", .string("string"))]))]))])),
]))])
private let date = Date(timeIntervalSince1970: 1_700_000_000)
private let utc = TimeZone(identifier: "UTC")!
private let limits = TemplateLimits(maxStringBytes: 1 << 20, maxAllocatedBytes: 8 << 20, maxSteps: 50_000,
                                    maxValueDepth: 64, maxRange: 10_000)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJinja(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let source = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let template = try? ChatTemplate(source: source, limits: limits) else { return 0 }
    _ = try? template.render(messages: [.object([("role", .string("system")), ("content", .string("Be brief."))]), message, toolCall],
                             tools: [tool], addGenerationPrompt: true, bosToken: "<s>", eosToken: "</s>",
                             date: date, timeZone: utc)
    return 0
}

@_cdecl("FuzzJinja_main")
public func fuzzJinjaMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    FuzzDriver.run(argc, argv, fuzzJinja)
}
