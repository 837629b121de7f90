import Foundation
import XCTest
@testable import LoomGeneration

/// Timing of one `sample` call at Qwen2's vocabulary size for each filter path, with a
/// correctness check of the same configuration against the full-sort reference. The timings are
/// printed (meaningful only in release builds); the check makes the test able to fail.
final class SamplerPerformanceTests: XCTestCase {
    func testQwenSizedVocabulary() throws {
        let vocab = 151_936
        var logits = SamplingReference.gaussianLogits(count: vocab, sd: 2.5, seed: 99)
        for i in stride(from: 0, to: vocab, by: 5003) { logits[i] += 12 }  // a few likely tokens
        let history = Array((0..<200).map { ($0 * 7919) % vocab })
        let configs: [(String, SamplingParameters)] = [
            ("greedy", .greedy),
            ("defaults (k40 p.95 min.05)", SamplingParameters(temperature: 0.8, seed: 1)),
            ("defaults + penalties", SamplingParameters(temperature: 0.8, repetitionPenalty: 1.1, presencePenalty: 0.1, frequencyPenalty: 0.1, seed: 1)),
            ("min-p 0.05 only", SamplingParameters(temperature: 0.8, topK: 0, topP: 1, minP: 0.05, seed: 1)),
            ("top-p 0.95 + min-p", SamplingParameters(temperature: 0.8, topK: 0, topP: 0.95, minP: 0.05, seed: 1)),
            ("top-p 0.95 only", SamplingParameters(temperature: 0.8, topK: 0, topP: 0.95, minP: 0, seed: 1)),
            ("top-p 0.95 only, peaked", SamplingParameters(temperature: 0.8, topK: 0, topP: 0.95, minP: 0, seed: 1)),
            ("temperature only", SamplingParameters(temperature: 0.8, topK: 0, topP: 1, minP: 0, seed: 1)),
        ]
        let calls = 40
        // A peaked distribution, closer to a confident LM step: a nucleus of a handful of tokens.
        let peaked = logits.enumerated().map { $0.offset % 5003 == 0 ? $0.element * 2 : $0.element }
        for (name, p) in configs {
            let logits = name.hasSuffix("peaked") ? peaked : logits
            var s = try Sampler(parameters: p)
            if p.temperature > 0 {
                let kept = s.survivingTokens(logits, history: [])
                XCTAssertTrue(SamplingReference.acceptableSurvivors(logits, p, relativeTolerance: 1e-6).contains(kept), name)
                print("sampler \(name): \(kept.count) tokens survive the filters")
            }
            _ = s.sample(logits: logits, history: history)  // warm the scratch buffers
            let start = DispatchTime.now().uptimeNanoseconds
            var sink = 0
            logits.withUnsafeBufferPointer { buffer in
                for _ in 0..<calls { sink &+= s.sample(logits: buffer, history: history) }
            }
            let perCall = Double(DispatchTime.now().uptimeNanoseconds - start) / Double(calls) / 1e3
            XCTAssertGreaterThanOrEqual(sink, 0)
            print(String(format: "sampler %@: %.1f µs per call (vocab %d)", name, perCall, vocab))
        }
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<calls { _ = Logprobs.top(logits, chosen: 3, n: 20) }
        print(String(format: "Logprobs.top n=20: %.1f µs per call", Double(DispatchTime.now().uptimeNanoseconds - start) / Double(calls) / 1e3))
    }
}
