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
/// is lossless for text made of bytes the vocabulary has a token for, so then decoding what
/// was encoded must give the text back byte for byte, with or without special-token parsing.
/// (SmolLM2's vocabulary has no token for 21 bytes, e.g. 0x04, 0x16 and the UTF-8 lead bytes
/// 0xF1/0xF2, as in its Hugging Face tokenizer: such text cannot round-trip.) Streaming
/// detokenization must always agree with `decode`.
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

/// Per tokenizer, the bytes that have a single-byte token.
private let encodableBytes: [Set<UInt8>] = tokenizers.map { tokenizer in
    Set((0..<tokenizer.vocabularySize).compactMap { id in
        let bytes = tokenizer.tokenBytes(id)
        return bytes.count == 1 && !tokenizer.isControl(id) ? bytes[0] : nil
    })
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBPE(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let selector = data[0]
    let which = Int(selector & 1)
    let tokenizer = tokenizers[which]
    let parseSpecial = selector & 2 != 0
    let addSpecial = selector & 4 != 0
    let text = String(decoding: UnsafeBufferPointer(start: data + 1, count: size - 1), as: UTF8.self)

    let ids = tokenizer.encode(text, addSpecial: addSpecial, parseSpecial: parseSpecial)
    fuzzCheck(ids.allSatisfy { $0 >= 0 && $0 < tokenizer.vocabularySize }, "encode returned an id outside the vocabulary")
    if !tokenizer.normalizesNFC && text.utf8.allSatisfy({ encodableBytes[which].contains($0) }) {
        let plain = addSpecial ? tokenizer.encode(text, addSpecial: false, parseSpecial: parseSpecial) : ids
        let decoded = tokenizer.decode(plain)
        fuzzCheck(Array(decoded.utf8) == Array(text.utf8),
                     "round trip changed the text: \(Array(text.utf8)) → \(plain) → \(Array(decoded.utf8))")
    }
    var stream = StreamingDetokenizer(tokenizer: tokenizer, skipSpecial: selector & 8 != 0)
    var streamed = ""
    for id in ids { streamed += stream.append(id) }
    streamed += stream.flush()
    fuzzCheck(streamed == tokenizer.decode(ids, skipSpecial: selector & 8 != 0),
                 "streaming detokenization disagrees with decode for \(ids)")
    return 0
}

@_cdecl("FuzzBPE_main")
public func fuzzBPEMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    _ = encodableBytes
    return FuzzDriver.run(argc, argv, fuzzBPE)
}
