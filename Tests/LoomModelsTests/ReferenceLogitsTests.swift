import Foundation
import XCTest
@testable import LoomKernels
@testable import LoomModels

/// Next-token log-probabilities and greedy continuations against an independent float64
/// reference (scripts/gen_model_fixtures.py: numpy forward over gguf-py's dequantisers).
final class ReferenceLogitsTests: XCTestCase {
    struct Fixture: Decodable {
        struct Case: Decodable {
            let prompt: String
            let ids: [Int]
            let positions: [[[Double]]]
            let top10: [[Double]]
            let greedy: [Int]
            let gaps: [Double]
        }
        let model: String
        let cases: [Case]
    }

    /// Largest allowed |Δ log-prob| between Loom and the float reference (issue #2).
    static let tolerance = 0.05

    static func fixture(_ model: String) throws -> Fixture {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "model_reference_\(model)", withExtension: "json", subdirectory: "Fixtures"))
        return try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }

    static func logSoftmax(_ logits: UnsafeBufferPointer<Float>) -> [Double] {
        let m = Double(logits.max()!)
        let lse = m + log(logits.reduce(0.0) { $0 + exp(Double($1) - m) })
        return logits.map { Double($0) - lse }
    }

    func testSmolLM2MatchesReference() throws { try Self.check("smollm2") }
    func testQwen2MatchesReference() throws { try Self.check("qwen2.5-0.5b") }

    static func check(_ name: String, model loaded: LanguageModel? = nil) throws {
        let fixture = try Self.fixture(name)
        XCTAssertGreaterThanOrEqual(fixture.cases.count, 5)
        let model = try loaded ?? LanguageModel(path: try TestModels.path(name))
        let session = try model.makeSession(contextLength: 256, pool: ThreadPool(threadCount: 2), cacheTypes: .f32)
        for c in fixture.cases {
            session.reset()
            var worst = 0.0
            try session.evaluate(c.ids) { index, logits in
                let lp = Self.logSoftmax(logits)
                let expected = c.positions[index]
                XCTAssertEqual(lp.indices.max { lp[$0] < lp[$1] }, Int(expected[0][0]),
                               "\(name) '\(c.prompt)' position \(index): top-1 differs")
                for pair in expected {
                    worst = max(worst, abs(lp[Int(pair[0])] - pair[1]))
                }
            }
            XCTAssertLessThanOrEqual(worst, Self.tolerance, "\(name) '\(c.prompt)': prompt positions")
            // The last position again through the plain path, against the top-10.
            session.reset()
            let last = Self.logSoftmax(try session.evaluate(c.ids))
            for pair in c.top10 {
                XCTAssertEqual(last[Int(pair[0])], pair[1], accuracy: Self.tolerance, "\(name) '\(c.prompt)' token \(Int(pair[0]))")
            }
            XCTAssertEqual(last.indices.max { last[$0] < last[$1] }, Int(c.top10[0][0]))
            // Greedy continuation, compared until the reference itself is nearly tied.
            var next = last.indices.max { last[$0] < last[$1] }!
            for step in 0..<c.greedy.count {
                if c.gaps[step] < Self.tolerance { break }
                XCTAssertEqual(next, c.greedy[step], "\(name) '\(c.prompt)': greedy step \(step)")
                if next != c.greedy[step] { break }
                let logits = try session.evaluate([next])
                next = VectorOps.argmax(logits.baseAddress!, count: logits.count)
            }
        }
    }
}
