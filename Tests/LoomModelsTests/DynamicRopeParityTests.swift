import Foundation
import LoomTestSupport
import XCTest
import LoomFormats
import LoomKernels
@testable import LoomModels

/// RoPE scalings whose frequencies follow the sequence length — dynamic NTK (Llama) and
/// LongRoPE (Phi-3) — against transformers on tiny random checkpoints already in the fixtures,
/// with the scaling written into their config (scripts/gen_rope_scaling_fixtures.py). Two
/// references per model: one forward pass over 40 tokens (every position rotates with the
/// frequencies for 40), and a 10-token prefill followed by one token per call, where the
/// frequencies grow with the sequence and cached keys keep the rotation they were stored with.
final class DynamicRopeParityTests: XCTestCase {
    struct Fixture: Decodable {
        struct Model: Decodable {
            let source: String
            let config: JSONValue
            let ids: [Int]
            let prefill: Int
            let full: [[Double]]
            let steps: [[Double]]
            let without_scaling_max_diff: Double
            let steps_vs_full_last_diff: Double
        }
        let transformers: String
        let models: [String: Model]
    }

    /// A JSON value decoded only to be written back out (the patched config.json).
    struct JSONValue: Decodable {
        let data: Data
        init(from decoder: Decoder) throws {
            data = try JSONSerialization.data(withJSONObject: try Self.any(decoder), options: [.sortedKeys])
        }
        private static func any(_ decoder: Decoder) throws -> Any {
            if var array = try? decoder.unkeyedContainer() {
                var values: [Any] = []
                while !array.isAtEnd { values.append(try any(array.superDecoder())) }
                return values
            }
            if let object = try? decoder.container(keyedBy: Key.self) {
                var values: [String: Any] = [:]
                for key in object.allKeys { values[key.stringValue] = try any(object.superDecoder(forKey: key)) }
                return values
            }
            let single = try decoder.singleValueContainer()
            if single.decodeNil() { return NSNull() }
            if let b = try? single.decode(Bool.self) { return b }
            if let i = try? single.decode(Int.self) { return i }
            if let d = try? single.decode(Double.self) { return d }
            return try single.decode(String.self)
        }
        struct Key: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }
    }

    static let tolerance = 1e-3
    static let fixturesRoot = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!

    static func fixture() throws -> Fixture {
        let url = fixturesRoot.appendingPathComponent("rope_scaling/reference_logits.json")
        return try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }

    /// A temporary copy of the model's source directory with the fixture's config.json.
    static func directory(_ name: String, _ model: Fixture.Model) throws -> URL {
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("loom-rope-\(name)-\(UUID().uuidString)")
        // The source ("hf_arch/phi3") inside its fixture tree's materialised copy (weights generated).
        let parts = model.source.split(separator: "/", maxSplits: 1).map(String.init)
        let source = fixturesRoot.appendingPathComponent(parts[0])
        let generated = FileManager.default.fileExists(atPath: source.appendingPathComponent(parts.count > 1 ? parts[1] : "").appendingPathComponent("weights.json").path)
        let tree = generated ? try SyntheticFixture.materialize(source) : source
        try FileManager.default.copyItem(at: tree.appendingPathComponent(parts.count > 1 ? parts[1] : ""), to: copy)
        try model.config.data.write(to: copy.appendingPathComponent("config.json"))
        return copy
    }

    static func worst(_ logits: UnsafeBufferPointer<Float>, _ reference: [Double]) -> Double {
        XCTAssertEqual(logits.count, reference.count)
        return zip(logits, reference).reduce(0) { max($0, abs(Double($1.0) - $1.1)) }
    }

    /// Both references for one model loaded from `path`.
    func check(_ model: LanguageModel, _ reference: Fixture.Model, label: String) throws {
        let session = try model.makeSession(contextLength: 64, pool: ThreadPool(threadCount: 2), cacheTypes: .f32)
        var full = 0.0
        try session.evaluate(reference.ids) { index, logits in full = max(full, Self.worst(logits, reference.full[index])) }
        XCTAssertLessThanOrEqual(full, Self.tolerance, "\(label): one forward pass, max |Δ logit| vs transformers")

        session.reset()
        var steps = Self.worst(try session.evaluate(Array(reference.ids[..<reference.prefill])), reference.steps[0])
        for (i, id) in reference.ids[reference.prefill...].enumerated() {
            steps = max(steps, Self.worst(try session.evaluate([id]), reference.steps[i + 1]))
        }
        XCTAssertLessThanOrEqual(steps, Self.tolerance, "\(label): prefill then one token per call, max |Δ logit| vs transformers")
        print("\(label): max |Δ logit| vs transformers: one pass \(full), step by step \(steps)")
    }

    func testDynamicNTKMatchesTransformers() throws {
        let reference = try XCTUnwrap(try Self.fixture().models["llama_dynamic"])
        XCTAssertGreaterThan(reference.without_scaling_max_diff, 0.05, "the cases must exercise the scaling")
        XCTAssertGreaterThan(reference.steps_vs_full_last_diff, 1e-2, "the step-by-step case must differ from one pass")
        let directory = try Self.directory("dynamic", reference)
        defer { try? FileManager.default.removeItem(at: directory) }
        let model = try LanguageModel(path: directory.path)
        XCTAssertEqual(model.config.ropeDynamic, .ntk(factor: 2, trainedContext: 16))
        try check(model, reference, label: "llama dynamic NTK")
        // Dynamic NTK has no GGUF form; converting must say so rather than drop it.
        let gguf = directory.appendingPathComponent("out.gguf").path
        XCTAssertThrowsError(try HFToGGUFConverter(outputType: .f32).convert(directory: directory.path, output: gguf)) {
            XCTAssertTrue("\($0)".contains("dynamic NTK"), "\($0)")
        }
    }

    func testLongRopeMatchesTransformersAsHFAndAsGGUF() throws {
        let reference = try XCTUnwrap(try Self.fixture().models["phi3_longrope"])
        XCTAssertGreaterThan(reference.without_scaling_max_diff, 0.05, "the cases must exercise the scaling")
        XCTAssertGreaterThan(reference.steps_vs_full_last_diff, 1e-2, "the step-by-step case must differ from one pass")
        let directory = try Self.directory("longrope", reference)
        defer { try? FileManager.default.removeItem(at: directory) }
        let hf = try LanguageModel(path: directory.path)
        guard case let .longrope(short, long, original, attention)? = hf.config.ropeDynamic else {
            return XCTFail("expected LongRoPE, got \(String(describing: hf.config.ropeDynamic))")
        }
        XCTAssertEqual(original, 16)
        XCTAssertEqual(short.count, 8)
        XCTAssertEqual(long.count, 8)
        XCTAssertEqual(attention, (1 + log(4.0) / log(16.0)).squareRoot(), accuracy: 1e-12)
        try check(hf, reference, label: "phi3 LongRoPE (HF)")

        let gguf = directory.appendingPathComponent("out.gguf").path
        try HFToGGUFConverter(outputType: .f32).convert(directory: directory.path, output: gguf)
        let converted = try LanguageModel(path: gguf)
        XCTAssertEqual(converted.config.ropeDynamic, hf.config.ropeDynamic.map {
            // The GGUF stores the factors as F32.
            guard case let .longrope(s, l, o, a) = $0 else { return $0 }
            return .longrope(short: s.map { Double(Float($0)) }, long: l.map { Double(Float($0)) }, originalContext: o,
                             attentionFactor: Double(Float(a)))
        })
        try check(converted, reference, label: "phi3 LongRoPE (GGUF)")
    }

    /// The frequencies follow transformers' growth rule and restart with a new sequence.
    func testDynamicStateGrowsAndRestarts() {
        let ntk = DynamicRopeScaling.ntk(factor: 2, trainedContext: 16)
        XCTAssertEqual(ntk.grownLength(previous: 0, end: 10), 16, "starts at the trained context")
        XCTAssertEqual(ntk.grownLength(previous: 16, end: 17), 17)
        XCTAssertEqual(ntk.grownLength(previous: 40, end: 20), 40, "never shrinks within a sequence")
        let plain = RotaryEmbedding(layout: .halfSplit, dimensions: 16, base: 10_000)
        let within = ntk.rotaryEmbedding(length: 16, layout: .halfSplit, dimensions: 16, base: 10_000)
        XCTAssertEqual(within.inverseFrequencies, plain.inverseFrequencies, "plain RoPE up to the trained context")
        let beyond = ntk.rotaryEmbedding(length: 32, layout: .halfSplit, dimensions: 16, base: 10_000)
        // θ' = θ·(2·32/16 − 1)^(16/14): every frequency but the first (always 1) is lower.
        let expected = 10_000 * pow(3.0, 16.0 / 14.0)
        XCTAssertEqual(beyond.inverseFrequencies[1], pow(expected, -2.0 / 16), accuracy: 1e-15)
    }
}
