import Foundation
import Crypto
import XCTest
@testable import LoomKernels
@testable import LoomFormats
import LoomHub
@testable import LoomModels

/// `loom quantize` end to end on real weights: SmolLM2 as shipped (Q4_1 + Q8_0) requantised to
/// Q8_0 must load and predict like the original. Q8_0 of the Q4_1 values adds at most
/// amax/254 per weight, so next-token log-probabilities stay close to the float64 reference of
/// the original file (scripts/gen_model_fixtures.py) and greedy decoding agrees wherever the
/// reference's top two tokens are not nearly tied.
final class RequantizedModelTests: XCTestCase {
    func testSmolLM2RequantizedToQ8_0LoadsAndGenerates() throws {
        let source = try TestModels.path("smollm2")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("loom-requant-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let output = dir + "/smollm2-q8_0.gguf"

        XCTAssertThrowsError(try GGUFQuantizer(fileType: .mostlyQ8_0).quantize(input: source, output: output))
        var quantizer = GGUFQuantizer(fileType: .mostlyQ8_0, threads: 2)
        quantizer.allowRequantize = true
        try quantizer.quantize(input: source, output: output)

        let model = try LanguageModel(path: output)
        XCTAssertEqual(Set(try XCTUnwrap(model.file).tensors.filter { $0.dimensions.count == 2 }.map(\.type)), [.q8_0])
        let fixture = try ReferenceLogitsTests.fixture("smollm2")
        let session = try model.makeSession(contextLength: 256, pool: ThreadPool(threadCount: 2))
        let tolerance = 0.3  // measured 0.19: Q8_0 rounding of every weight, through 30 layers
        var worst = 0.0
        for c in fixture.cases {
            session.reset()
            let last = ReferenceLogitsTests.logSoftmax(try session.evaluate(c.ids))
            for pair in c.top10 { worst = max(worst, abs(last[Int(pair[0])] - pair[1])) }
            var next = last.indices.max { last[$0] < last[$1] }!
            for step in 0..<min(12, c.greedy.count) {
                if c.gaps[step] < 0.4 { break }
                XCTAssertEqual(next, c.greedy[step], "'\(c.prompt)': greedy step \(step)")
                if next != c.greedy[step] { break }
                let logits = try session.evaluate([next])
                next = VectorOps.argmax(logits.baseAddress!, count: logits.count)
            }
        }
        XCTAssertLessThanOrEqual(worst, tolerance)
        print("requantised Q8_0 SmolLM2: worst |Δ log-prob| over top-10 = \(worst)")
    }

    /// `loom quantize` against llama.cpp's own quantiser (llama-cpp-python's
    /// `llama_model_quantize`, scripts/gen_llamacpp_quantize_fixtures.py) on the real SmolLM2
    /// weights: every tensor's type and SHA-256 must match, for legacy and K-quant mixes.
    func testQuantizeMatchesLlamaCppByteForByte() throws {
        struct Fixture: Decodable { let types: [String: [String: [String]]] }
        let url = try XCTUnwrap(Bundle.module.url(forResource: "llamacpp_quantize_smollm2", withExtension: "json", subdirectory: "Fixtures"))
        let fixture = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
        XCTAssertEqual(fixture.types.count, 10)
        let source = try TestModels.path("smollm2")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("loom-llamacpp-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (name, expected) in fixture.types.sorted(by: { $0.key < $1.key }) {
            var quantizer = GGUFQuantizer(fileType: try XCTUnwrap(QuantizationFileType(name: name)), threads: 2)
            quantizer.allowRequantize = true
            let out = dir + "/\(name).gguf"
            try quantizer.quantize(input: source, output: out)
            let file = try GGUFFile(path: out)
            XCTAssertEqual(file.tensors.count, expected.count, name)
            var mismatches = 0
            for t in file.tensors {
                guard let e = expected[t.name] else { XCTFail("\(name): unexpected tensor \(t.name)"); continue }
                let hash = SHA256.hash(data: Array(file.bytes(for: t))).hex
                if t.type.description != e[0] || hash != e[1] {
                    mismatches += 1
                    if mismatches <= 5 { XCTFail("\(name) \(t.name): \(t.type) vs llama.cpp \(e[0])\(hash != e[1] ? ", bytes differ" : "")") }
                }
            }
            XCTAssertEqual(mismatches, 0, name)
            try FileManager.default.removeItem(atPath: out)
        }
    }
}
