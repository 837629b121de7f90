import Foundation
import XCTest
@testable import LoomGeneration

final class LogprobsTests: XCTestCase {
    /// Hand computation in double: log p_i = l_i - (m + log Σ exp(l_j - m)).
    private func reference(_ logits: [Float]) -> [Double] {
        let m = Double(logits.max()!)
        let logZ = m + log(logits.map { exp(Double($0) - m) }.reduce(0, +))
        return logits.map { Double($0) - logZ }
    }

    func testSmallVocabularyAgainstHandComputation() {
        let logits: [Float] = [1.5, -0.25, 3.0, 3.0, 0.0, -7.0]
        // log Z = 3 + log(e^-1.5 + e^-3.25 + 1 + 1 + e^-3 + e^-10) = 3 + log(2.301...)
        let z = exp(-1.5) + exp(-3.25) + 2 + exp(-3.0) + exp(-10.0)
        XCTAssertEqual(reference(logits)[2], -log(z), accuracy: 1e-12)
        let result = Logprobs.top(logits, chosen: 0, n: 3)
        XCTAssertEqual(result.chosen.id, 0)
        XCTAssertEqual(Double(result.chosen.logprob), 1.5 - 3 - log(z), accuracy: 1e-5)
        XCTAssertEqual(result.top.map(\.id), [2, 3, 0])  // tie 2/3 by lower id
        for entry in result.top {
            XCTAssertEqual(Double(entry.logprob), reference(logits)[entry.id], accuracy: 1e-5)
        }
    }

    func testLargeVocabularyAgainstHandComputation() {
        var logits = SamplingReference.gaussianLogits(count: 50_000, sd: 4, seed: 21)
        logits = logits.map { $0 + 20 }  // realistic offset: logits are not centred
        let expected = reference(logits)
        let order = logits.indices.sorted { logits[$0] > logits[$1] || (logits[$0] == logits[$1] && $0 < $1) }
        for (chosen, n) in [(17, 5), (order[0], 20), (order[49_999], 1), (123, 0)] {
            let result = logits.withUnsafeBufferPointer { Logprobs.top($0, chosen: chosen, n: n) }
            XCTAssertEqual(Double(result.chosen.logprob), expected[chosen], accuracy: 1e-5)
            XCTAssertEqual(result.top.map(\.id), Array(order.prefix(n)))
            for entry in result.top {
                XCTAssertEqual(Double(entry.logprob), expected[entry.id], accuracy: 1e-5)
            }
        }
        // The probabilities of the whole vocabulary sum to 1.
        let all = Logprobs.top(logits, chosen: 0, n: logits.count).top
        XCTAssertEqual(all.count, logits.count)
        XCTAssertEqual(all.map { exp(Double($0.logprob)) }.reduce(0, +), 1, accuracy: 1e-4)
    }

    func testEdgeCases() {
        let r = Logprobs.top([0, 0], chosen: 5, n: 10)
        XCTAssertEqual(r.chosen, TokenLogprob(id: 5, logprob: -.infinity))
        XCTAssertEqual(r.top.map(\.id), [0, 1])
        XCTAssertEqual(Double(r.top[0].logprob), -log(2), accuracy: 1e-6)
        XCTAssertEqual(Logprobs.top([1, 2], chosen: 1, n: -3).top, [])

        let banned = Logprobs.top([0, -.infinity, .nan, 0], chosen: 1, n: 4)
        XCTAssertEqual(banned.chosen.logprob, -.infinity)
        XCTAssertEqual(banned.top.map(\.id), [0, 3, 1, 2])
        XCTAssertEqual(banned.top.map(\.logprob)[2...], [-.infinity, -.infinity])

        let forced = Logprobs.top([.infinity, 3, .infinity], chosen: 2, n: 2)
        XCTAssertEqual(Double(forced.chosen.logprob), -log(2), accuracy: 1e-6)
        XCTAssertEqual(forced.top.map(\.id), [0, 2])

        let dead = Logprobs.top([-.infinity, .nan], chosen: 0, n: 1)
        XCTAssertEqual(dead.chosen.logprob, -.infinity)
        XCTAssertEqual(Logprobs.top([Float](), chosen: 0, n: 3).top, [])
    }
}
