import Foundation
import FuzzSupport
import LoomFormats
import LoomHub
import LoomTokenizer

/// BPE encode/decode with real vocabularies: SmolLM2's (GGUF, `smollm` pre-tokenizer) and
/// Meta Llama 3's `tokenizer.json` (`llama3` pre-tokenizer), the test models' tokenizers
/// (fetched into the model cache like the tests do, on first use).
///
/// Input: byte 0 picks the tokenizer and the flags, the rest is text (ill-formed UTF-8
/// becomes U+FFFD, as a server request's text would). Byte-level BPE without normalization
/// is lossless, so decoding what was encoded must give the text back byte for byte, with
/// or without special-token parsing; streaming detokenization must agree with `decode`.
private let tokenizers: [BPETokenizer] = {
    let store = ModelStore()
    do {
        return [
            try BPETokenizer(gguf: GGUFFile(path: store.resolve("smollm2", progress: .silent))),
            try BPETokenizer(huggingFace: store.resolve("llama3-tokenizer", progress: .silent)),
        ]
    } catch {
        fatalError("FuzzBPE needs the test models' tokenizers: \(error)")
    }
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBPE(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let selector = data[0]
    let tokenizer = tokenizers[Int(selector & 1)]
    let parseSpecial = selector & 2 != 0
    let addSpecial = selector & 4 != 0
    let text = String(decoding: UnsafeBufferPointer(start: data + 1, count: size - 1), as: UTF8.self)

    let ids = tokenizer.encode(text, addSpecial: addSpecial, parseSpecial: parseSpecial)
    precondition(ids.allSatisfy { $0 >= 0 && $0 < tokenizer.vocabularySize }, "encode returned an id outside the vocabulary")
    if !tokenizer.normalizesNFC {
        let plain = addSpecial ? tokenizer.encode(text, addSpecial: false, parseSpecial: parseSpecial) : ids
        let decoded = tokenizer.decode(plain)
        precondition(Array(decoded.utf8) == Array(text.utf8),
                     "round trip changed the text: \(Array(text.utf8)) → \(plain) → \(Array(decoded.utf8))")
    }
    var stream = StreamingDetokenizer(tokenizer: tokenizer, skipSpecial: selector & 8 != 0)
    var streamed = ""
    for id in ids { streamed += stream.append(id) }
    streamed += stream.flush()
    precondition(streamed == tokenizer.decode(ids, skipSpecial: selector & 8 != 0),
                 "streaming detokenization disagrees with decode for \(ids)")
    return 0
}

@_cdecl("FuzzBPE_main")
public func fuzzBPEMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    _ = tokenizers
    return FuzzDriver.run(argc, argv, fuzzBPE)
}
