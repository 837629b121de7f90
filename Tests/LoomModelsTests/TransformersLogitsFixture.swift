import Foundation
import XCTest
import LoomKernels
import LoomTestSupport
@testable import LoomModels

/// `reference_logits.json` as the transformers fixture scripts write it
/// (scripts/gen_hf_independent_fixtures.py, scripts/gen_hf_arch_fixtures.py): per model, texts
/// with their token ids and transformers' float32 logits at every position.
struct TransformersLogitsFixture: Decodable {
    struct Case: Decodable {
        let text: String
        let ids: [Int]
        let logits: [[Double]]
    }
    struct Model: Decodable {
        let dtype: String?
        let cases: [Case]
        /// How far the logits move without RoPE scaling / without the sliding window: proof
        /// that the feature is exercised by the cases.
        let without_rope_scaling_max_diff: Double?
        let without_sliding_window_max_diff: Double?
    }
    let transformers: String
    let models: [String: Model]

    /// Fixture folders whose weights are generated from `weights.json` manifests.
    static let synthetic: Set<String> = ["hf_arch", "hf_bitnet"]

    /// The fixture folder `name` under the test bundle's Fixtures (for a synthetic one, its
    /// materialised copy with the weight files generated and verified), and its reference logits.
    static func load(_ name: String) throws -> (root: URL, fixture: TransformersLogitsFixture) {
        var root = try XCTUnwrap(Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures"))
        if synthetic.contains(name) { root = try SyntheticFixture.materialize(root) }
        let fixture = try JSONDecoder().decode(Self.self, from: Data(contentsOf: root.appendingPathComponent("reference_logits.json")))
        return (root, fixture)
    }

    /// Largest |Δ logit| of `model` over every case of `name`: all positions of the prompt
    /// path, and (`decodeToo`) the last position again through a single-token decode step.
    /// Token ids must match the fixture's.
    func worstDifference(_ model: LanguageModel, _ name: String, decodeToo: Bool = false) throws -> Double {
        let reference = try XCTUnwrap(models[name], name)
        let session = try model.makeSession(contextLength: 64, pool: ThreadPool(threadCount: 2), cacheTypes: .f32)
        var worst = 0.0
        XCTAssertGreaterThanOrEqual(reference.cases.count, 2)
        for c in reference.cases {
            XCTAssertEqual(model.tokenizer.encode(c.text), c.ids, "\(name): tokenizer ids for '\(c.text)'")
            session.reset()
            var seen = 0
            try session.evaluate(c.ids) { index, logits in
                seen += 1
                XCTAssertEqual(logits.count, c.logits[index].count, name)
                for (a, b) in zip(logits, c.logits[index]) { worst = max(worst, abs(Double(a) - b)) }
            }
            XCTAssertEqual(seen, c.ids.count, name)
            if decodeToo && c.ids.count > 1 {
                session.reset()
                try session.evaluate(Array(c.ids.dropLast()))
                let last = try session.evaluate([c.ids.last!])
                for (a, b) in zip(last, c.logits[c.ids.count - 1]) { worst = max(worst, abs(Double(a) - b)) }
            }
        }
        return worst
    }
}
