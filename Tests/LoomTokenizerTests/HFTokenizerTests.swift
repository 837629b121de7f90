import Foundation
import XCTest
@testable import LoomTokenizer

/// `hf_tokenizer_llama3.json` / `hf_tokenizer_small.json` (scripts/gen_hf_tokenizer_fixtures.py).
struct HFTokenizerCase: Decodable {
    let text: String
    /// `tokenizers` ids with add_special_tokens=False (special-token text is still split out).
    let ids: [Int]
    /// `tokenizers` ids with add_special_tokens=True.
    let ids_special: [Int]
    let decoded: String
    let decoded_skip: String
}

struct HFLlama3Fixture: Decodable {
    let sha256: String
    let cases: [HFTokenizerCase]
}

struct HFSmallFixture: Decodable {
    struct Variant: Decodable {
        let name: String
        let pre_tokenizer: String
        let merges_format: String
        let tokenizer_json: String
        let cases: [HFTokenizerCase]
    }
    let variants: [Variant]
}

/// A scratch directory removed at the end of the test.
func makeScratchDirectory(_ test: XCTestCase) throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("loom-hf-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
    return dir
}

/// Loading Hugging Face tokenizer.json files into `BPETokenizer`, checked against the Python
/// `tokenizers` package.
final class HFTokenizerTests: XCTestCase {
    /// Meta's Llama 3 tokenizer.json (the model store's "llama3-tokenizer"), loaded once.
    private static let llama3Path = Result { try TestModels.path("llama3-tokenizer") }
    private static let llama3 = Result { try BPETokenizer(huggingFace: llama3Path.get()) }

    private func check(_ tokenizer: BPETokenizer, _ cases: [HFTokenizerCase], _ label: String,
                       file: StaticString = #filePath, line: UInt = #line) {
        for c in cases {
            let what = "\(label) \(describe(c.text))"
            XCTAssertEqual(tokenizer.encode(c.text, addSpecial: false), c.ids, "encode \(what)", file: file, line: line)
            XCTAssertEqual(tokenizer.encode(c.text, addSpecial: true), c.ids_special, "encode+special \(what)", file: file, line: line)
            XCTAssertSameBytes(tokenizer.decode(c.ids), c.decoded, "decode \(what)", file: file, line: line)
            XCTAssertSameBytes(tokenizer.decode(c.ids, skipSpecial: true), c.decoded_skip, "decode skipping specials \(what)", file: file, line: line)
        }
    }

    func testLlama3MatchesHFTokenizers() throws {
        let fixture = try Fixtures.load("hf_tokenizer_llama3", as: HFLlama3Fixture.self)
        let path = try Self.llama3Path.get()
        let start = Date()
        let tokenizer = try BPETokenizer(huggingFace: path)
        print("llama3 tokenizer.json loaded in \(String(format: "%.2f", Date().timeIntervalSince(start))) s")
        XCTAssertGreaterThanOrEqual(fixture.cases.count, 100)
        XCTAssertEqual(tokenizer.vocabularySize, 128_256)
        XCTAssertEqual(tokenizer.preTokenizer, .llama3)
        XCTAssertTrue(tokenizer.ignoresMerges)
        XCTAssertFalse(tokenizer.normalizesNFC)
        // This file's post-processor is plain ByteLevel: HF adds no BOS, and neither do we.
        XCTAssertFalse(tokenizer.addsBOS)
        XCTAssertEqual(tokenizer.piece(128_000), "<|begin_of_text|>")
        XCTAssertEqual(tokenizer.tokenType(128_009), .control)
        XCTAssertEqual(tokenizer.tokenType(9906), .normal)
        XCTAssertTrue(tokenizer.endOfGenerationIDs.isSuperset(of: [128_001, 128_009]))
        check(tokenizer, fixture.cases, "llama3")
    }

    /// Decoding what was encoded gives the text back, byte for byte (byte-level BPE is lossless).
    func testLlama3RoundTrip() throws {
        let fixture = try Fixtures.load("hf_tokenizer_llama3", as: HFLlama3Fixture.self)
        let tokenizer = try Self.llama3.get()
        for c in fixture.cases {
            XCTAssertSameBytes(tokenizer.decode(tokenizer.encode(c.text, addSpecial: false)), c.text, "round trip \(describe(c.text))")
            XCTAssertSameBytes(tokenizer.decode(tokenizer.encode(c.text, addSpecial: false, parseSpecial: false)), c.text,
                               "round trip without special parsing \(describe(c.text))")
        }
    }

    /// The HF loader and the existing hand-built slice tokenizer (Llama3TokenizerTests' fixture,
    /// whose ids came from `tokenizers` independently) agree on those strings too.
    func testLlama3AgreesWithSliceFixture() throws {
        let fixture = try Fixtures.load("tokenizer_llama3", as: Llama3Fixture.self)
        let tokenizer = try Self.llama3.get()
        for c in fixture.cases {
            XCTAssertEqual(tokenizer.encode(c.text, addSpecial: false), c.ids, "encode \(describe(c.text))")
        }
    }

    /// Small trained tokenizers covering each supported pre-tokenizer, NFC, TemplateProcessing,
    /// added tokens and both merge formats.
    func testSmallVariantsMatchHFTokenizers() throws {
        let fixture = try Fixtures.load("hf_tokenizer_small", as: HFSmallFixture.self)
        XCTAssertEqual(Set(fixture.variants.map(\.merges_format)), ["pairs", "strings"])
        let dir = try makeScratchDirectory(self)
        for variant in fixture.variants {
            let path = dir.appendingPathComponent("\(variant.name).json")
            try Data(variant.tokenizer_json.utf8).write(to: path)
            let tokenizer = try BPETokenizer(huggingFace: path)
            XCTAssertEqual(tokenizer.preTokenizer.rawValue, variant.pre_tokenizer, variant.name)
            XCTAssertEqual(tokenizer.normalizesNFC, variant.name.contains("nfc"), variant.name)
            XCTAssertGreaterThan(variant.cases.count, 100)
            check(tokenizer, variant.cases, variant.name)
            // In-memory parsing gives the same tables.
            let file = try HFTokenizerFile(bytes: Array(variant.tokenizer_json.utf8))
            XCTAssertEqual(file.tokens.count, tokenizer.vocabularySize)
            XCTAssertEqual(file.preTokenizer, tokenizer.preTokenizer)
        }
        let template = try XCTUnwrap(fixture.variants.first { $0.name == "llama3_split_template" })
        let file = try HFTokenizerFile(bytes: Array(template.tokenizer_json.utf8))
        XCTAssertNotNil(file.prefixTokenID)
        XCTAssertNotNil(file.suffixTokenID)
        let smol = try XCTUnwrap(fixture.variants.first { $0.name == "smollm_digits_added_tokens" })
        let smolFile = try HFTokenizerFile(bytes: Array(smol.tokenizer_json.utf8))
        XCTAssertEqual(smolFile.addedTokens.first { $0.content == "<tool_call>" }?.special, false)
        XCTAssertEqual(smolFile.addedTokens.first { $0.content == "<|im_end|>" }?.special, true)
    }

    /// An HF directory: tokenizer_config.json decides BOS/EOS and carries the chat templates,
    /// generation_config.json's eos ids end generation.
    func testDirectoryWithConfigFiles() throws {
        let dir = try makeScratchDirectory(self)
        try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent("tokenizer.json").path,
                                                   withDestinationPath: Self.llama3Path.get())
        let config = #"""
        {"add_bos_token": true, "add_eos_token": false,
         "bos_token": "<|begin_of_text|>",
         "eos_token": {"__type": "AddedToken", "content": "<|eot_id|>", "lstrip": false},
         "pad_token": null,
         "chat_template": [{"name": "default", "template": "{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}"},
                           {"name": "tool_use", "template": "TOOLS"}],
         "model_max_length": 1000000000000000019884624838656,
         "tokenizer_class": "PreTrainedTokenizerFast"}
        """#
        let generation = #"""
        {"bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009], "do_sample": true,
         "temperature": 0.6, "top_p": 0.9, "top_k": 40, "repetition_penalty": 1.1, "max_new_tokens": 256,
         "transformers_version": "4.43.0"}
        """#
        try Data(config.utf8).write(to: dir.appendingPathComponent("tokenizer_config.json"))
        try Data(generation.utf8).write(to: dir.appendingPathComponent("generation_config.json"))

        let bundle = try HFTokenizerBundle.load(path: dir.path)
        let tokenizer = bundle.tokenizer
        let plain = try Self.llama3.get()
        XCTAssertTrue(tokenizer.addsBOS)
        XCTAssertFalse(tokenizer.addsEOS)
        XCTAssertEqual(tokenizer.bosID, 128_000)
        XCTAssertEqual(tokenizer.eosID, 128_009)
        XCTAssertEqual(tokenizer.encode("Hello world"), [128_000] + plain.encode("Hello world", addSpecial: false))
        // 128008 is <|reserved_special_token_4|> in this Llama 3.0 file: not an end marker by
        // its text, but generation_config.json lists it, so generation stops there too.
        XCTAssertFalse(plain.endOfGenerationIDs.contains(128_008))
        XCTAssertTrue(tokenizer.endOfGenerationIDs.isSuperset(of: [128_001, 128_008, 128_009]))
        XCTAssertTrue(bundle.endOfGenerationIDs.isSuperset(of: [128_001, 128_008, 128_009]))
        XCTAssertEqual(bundle.bosToken, "<|begin_of_text|>")
        XCTAssertEqual(bundle.eosToken, "<|eot_id|>")
        XCTAssertEqual(bundle.chatTemplateSource, "{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}")
        XCTAssertEqual(bundle.namedChatTemplates["tool_use"], "TOOLS")
        XCTAssertEqual(bundle.config?.modelMaxLength, nil, "1e30 means no limit")
        XCTAssertEqual(bundle.config?.tokenizerClass, "PreTrainedTokenizerFast")
        let g = try XCTUnwrap(bundle.generation)
        XCTAssertEqual(g.eosTokenIDs, [128_001, 128_008, 128_009])
        XCTAssertEqual(g.bosTokenID, 128_000)
        XCTAssertEqual(g.doSample, true)
        XCTAssertEqual(g.temperature, 0.6)
        XCTAssertEqual(g.topP, 0.9)
        XCTAssertEqual(g.topK, 40)
        XCTAssertEqual(g.repetitionPenalty, 1.1)
        XCTAssertEqual(g.maxNewTokens, 256)
        XCTAssertNil(g.maxLength)
        let ids = try XCTUnwrap(bundle.config?.specialTokenIDs(in: tokenizer))
        XCTAssertEqual(ids.bos, 128_000)
        XCTAssertEqual(ids.eos, 128_009)

        // The same directory named through its tokenizer.json file reads the companions too.
        let viaFile = try HFTokenizerBundle.load(path: dir.appendingPathComponent("tokenizer.json").path)
        XCTAssertEqual(viaFile.chatTemplateSource, bundle.chatTemplateSource)
        XCTAssertTrue(viaFile.tokenizer.addsBOS)
    }

    /// Without chat_template in tokenizer_config.json, a `chat_template.jinja` file is used;
    /// a single eos id and a plain-string template are accepted.
    func testChatTemplateFileAndScalarEOS() throws {
        let fixture = try Fixtures.load("hf_tokenizer_small", as: HFSmallFixture.self)
        let smol = try XCTUnwrap(fixture.variants.first { $0.name == "smollm_digits_added_tokens" })
        let dir = try makeScratchDirectory(self)
        try Data(smol.tokenizer_json.utf8).write(to: dir.appendingPathComponent("tokenizer.json"))
        try Data(#"{"eos_token": "<|im_end|>", "bos_token": null, "model_max_length": 8192}"#.utf8)
            .write(to: dir.appendingPathComponent("tokenizer_config.json"))
        try Data(#"{"eos_token_id": 1, "max_length": 100}"#.utf8).write(to: dir.appendingPathComponent("generation_config.json"))
        try Data("{% for m in messages %}{{ m.content }}{% endfor %}".utf8).write(to: dir.appendingPathComponent("chat_template.jinja"))
        let bundle = try HFTokenizerBundle.load(path: dir.path)
        let imEnd = try XCTUnwrap(bundle.tokenizer.id(of: "<|im_end|>"))
        XCTAssertEqual(bundle.tokenizer.eosID, imEnd)
        XCTAssertNil(bundle.tokenizer.bosID)
        XCTAssertFalse(bundle.tokenizer.addsBOS)
        XCTAssertEqual(bundle.chatTemplateSource, "{% for m in messages %}{{ m.content }}{% endfor %}")
        XCTAssertEqual(bundle.config?.modelMaxLength, 8192)
        XCTAssertEqual(bundle.generation?.eosTokenIDs, [1])
        XCTAssertEqual(bundle.generation?.maxLength, 100)
        XCTAssertTrue(bundle.tokenizer.endOfGenerationIDs.isSuperset(of: [imEnd, 1]))
        XCTAssertEqual(bundle.tokenizer.tokenType(imEnd), .control)
        XCTAssertEqual(bundle.tokenizer.tokenType(try XCTUnwrap(bundle.tokenizer.id(of: "<tool_call>"))), .userDefined)
    }
}
