import FuzzSupport
import LoomJinja

/// Loom's JSON parser (config.json, tokenizer.json, safetensors headers, chat-template
/// inputs). Whatever it accepts must convert to a template value without trouble.
private let serializer = try! ChatTemplate(source: "{{ x|tojson }}{{ x|string }}")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSON(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let value = try? JSONParser.parse(bytes) else { return 0 }
    let converted = JinjaValue(json: value)
    fuzzCheck(converted == converted, "a parsed JSON value is not equal to itself")
    _ = try? serializer.render(context: ["x": converted])
    return 0
}

@_cdecl("FuzzJSON_main")
public func fuzzJSONMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    FuzzDriver.run(argc, argv, fuzzJSON)
}
