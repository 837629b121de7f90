import XCTest
@testable import LoomGeneration

/// Every filter path of the sampler at Qwen2's vocabulary size, against the full-sort reference
/// definitions: the selection and threshold shortcuts that only pay off on large vocabularies
/// (histogram buckets, partial selection) must keep exactly the tokens the definitions keep.
/// (The timing of the same configurations is `scripts/bench_sampler.swift`; unit tests do not
/// measure time.)
final class SamplerFilterPathTests: XCTestCase {
    func testQwenSizedVocabularyKeepsTheReferenceSurvivors() throws {
        let vocab = 151_936
        var logits = SamplingReference.gaussianLogits(count: vocab, sd: 2.5, seed: 99)
        for i in stride(from: 0, to: vocab, by: 5003) { logits[i] += 12 }  // a few likely tokens
        // A peaked distribution, closer to a confident LM step: a nucleus of a handful of tokens.
        let peaked = logits.enumerated().map { $0.offset % 5003 == 0 ? $0.element * 2 : $0.element }
        let configs: [(String, SamplingParameters, [Float])] = [
            ("defaults (k40 p.95 min.05)", SamplingParameters(temperature: 0.8, seed: 1), logits),
            ("min-p 0.05 only", SamplingParameters(temperature: 0.8, topK: 0, topP: 1, minP: 0.05, seed: 1), logits),
            ("top-p 0.95 + min-p", SamplingParameters(temperature: 0.8, topK: 0, topP: 0.95, minP: 0.05, seed: 1), logits),
            ("top-p 0.95 only", SamplingParameters(temperature: 0.8, topK: 0, topP: 0.95, minP: 0, seed: 1), logits),
            ("top-p 0.95 only, peaked", SamplingParameters(temperature: 0.8, topK: 0, topP: 0.95, minP: 0, seed: 1), peaked),
            ("temperature only", SamplingParameters(temperature: 0.8, topK: 0, topP: 1, minP: 0, seed: 1), logits),
        ]
        for (name, p, logits) in configs {
            var s = try Sampler(parameters: p)
            let kept = s.survivingTokens(logits, history: [])
            XCTAssertTrue(SamplingReference.acceptableSurvivors(logits, p, relativeTolerance: 1e-6).contains(kept), name)
        }
    }
}
