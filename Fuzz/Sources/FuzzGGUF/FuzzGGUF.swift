import FuzzSupport
import LoomFormats
import LoomModels
import LoomTokenizer
import LoomJinja

/// GGUF header → model config → tensor binding → tokenizer → chat template: everything
/// `LanguageModel(path:)` checks before it computes with the weights. Any thrown error is a
/// correct answer; a trap, an ASan report, a hang or an allocation past the RSS limit is a bug.
private let scratch = ScratchFile(name: "model.gguf")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGGUF(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    scratch.replace(with: UnsafeRawBufferPointer(start: data, count: size))
    guard let file = FuzzLog.attempt("GGUFFile", { try GGUFFile(path: scratch.path) }) else { return 0 }
    // Every tensor extent the header accepted must lie inside the mapping: touch both ends.
    var checksum: UInt8 = 0
    for tensor in file.tensors {
        let bytes = file.bytes(for: tensor)
        if let first = bytes.first, let last = bytes.last { checksum ^= first ^ last }
    }
    for key in file.metadataKeys { _ = file[key]?.stringValue; _ = file.arrayElementType(forKey: key) }
    if let config = FuzzLog.attempt("ModelConfig", { try ModelConfig(gguf: file) }) {
        _ = FuzzLog.attempt("DecoderWeights", { try DecoderWeights(file: file, config: config) })
    }
    if let tokenizer = FuzzLog.attempt("BPETokenizer", { try BPETokenizer(gguf: file) }) {
        let ids = tokenizer.encode("Hello, world! 123 <|im_start|>", addSpecial: true)
        _ = tokenizer.decode(ids)
    }
    if let template = FuzzLog.attempt("ChatTemplate", { try ChatTemplate(gguf: file) }) ?? nil {
        let message = JinjaValue.object([("role", .string("user")), ("content", .string("hi"))])
        _ = FuzzLog.attempt("render") { try template.render(messages: [message], addGenerationPrompt: true) }
    }
    fuzzConsume(checksum)
    return 0
}

@_cdecl("FuzzGGUF_main")
public func fuzzGGUFMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    FuzzDriver.run(argc, argv, fuzzGGUF)
}
