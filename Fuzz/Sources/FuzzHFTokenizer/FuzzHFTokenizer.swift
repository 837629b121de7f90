import FuzzSupport
import LoomTokenizer

/// A Hugging Face `tokenizer.json` → `BPETokenizer` (the path `LanguageModel` takes for a
/// model folder), then a short encode/decode with whatever vocabulary was accepted.
private let scratch = ScratchFile(name: "tokenizer.json")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHFTokenizer(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    scratch.replace(with: UnsafeRawBufferPointer(start: data, count: size))
    guard let tokenizer = FuzzLog.attempt("BPETokenizer", { try BPETokenizer(huggingFace: scratch.path) }) else { return 0 }
    for text in ["Hello world", " 12 345\n\n", "<s>é😀</s>"] {
        let ids = tokenizer.encode(text, addSpecial: true)
        fuzzCheck(ids.allSatisfy { $0 >= 0 && $0 < tokenizer.vocabularySize }, "encode returned an id outside the vocabulary")
        _ = tokenizer.decode(ids, skipSpecial: true)
    }
    return 0
}

@_cdecl("FuzzHFTokenizer_main")
public func fuzzHFTokenizerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    FuzzDriver.run(argc, argv, fuzzHFTokenizer)
}
