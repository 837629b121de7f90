// Micro-benchmark of one `Sampler.sample` call at Qwen2's vocabulary size (151 936) for each
// filter path, and of `Logprobs.top` with 20 alternatives: µs per call.
//
// Not part of the package (no speed assertions anywhere; the correctness of the same filter
// paths is Tests/LoomGenerationTests/SamplerFilterPathTests). It is compiled together with the
// sampling sources into one throwaway executable, with the package's release flags:
//
//   swiftc -Ounchecked -wmo -target-cpu native -enforce-exclusivity=unchecked -parse-as-library \
//       -module-name LoomGeneration Sources/LoomGeneration/Sampling/*.swift \
//       scripts/bench_sampler.swift -o /tmp/bench_sampler && /tmp/bench_sampler
//
// Each configuration is warmed once (scratch buffers), then timed over 200 calls; the best of
// 5 such runs is reported. Logits are N(0, 2.5²) from a seeded generator with a few tokens
// raised by 12 (a handful of likely tokens), and a "peaked" variant with those doubled.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@main
enum BenchSampler {
    static func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }

    /// Best-of-5 µs per call of `body`, 200 calls a run.
    static func time(_ body: () -> Void) -> Double {
        var best = Double.infinity
        for _ in 0..<5 {
            let start = now()
            for _ in 0..<200 { body() }
            best = min(best, (now() - start) / 200 * 1e6)
        }
        return best
    }

    static func gaussianLogits(count: Int, sd: Double, seed: UInt64) -> [Float] {
        var g = Xoshiro256StarStar(seed: seed)
        return (0..<count).map { _ in
            let u1 = 1 - g.nextUnitDouble(), u2 = g.nextUnitDouble()
            return Float(sd * (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
        }
    }

    static func main() throws {
        let vocab = 151_936
        var logits = gaussianLogits(count: vocab, sd: 2.5, seed: 99)
        for i in stride(from: 0, to: vocab, by: 5003) { logits[i] += 12 }
        let peaked = logits.enumerated().map { $0.offset % 5003 == 0 ? $0.element * 2 : $0.element }
        let history = Array((0..<200).map { ($0 * 7919) % vocab })
        let configs: [(String, SamplingParameters, [Float])] = [
            ("greedy", .greedy, logits),
            ("defaults (k40 p.95 min.05)", SamplingParameters(temperature: 0.8, seed: 1), logits),
            ("defaults + penalties", SamplingParameters(temperature: 0.8, repetitionPenalty: 1.1, presencePenalty: 0.1, frequencyPenalty: 0.1, seed: 1), logits),
            ("min-p 0.05 only", SamplingParameters(temperature: 0.8, topK: 0, topP: 1, minP: 0.05, seed: 1), logits),
            ("top-p 0.95 + min-p", SamplingParameters(temperature: 0.8, topK: 0, topP: 0.95, minP: 0.05, seed: 1), logits),
            ("top-p 0.95 only", SamplingParameters(temperature: 0.8, topK: 0, topP: 0.95, minP: 0, seed: 1), logits),
            ("top-p 0.95 only, peaked", SamplingParameters(temperature: 0.8, topK: 0, topP: 0.95, minP: 0, seed: 1), peaked),
            ("temperature only", SamplingParameters(temperature: 0.8, topK: 0, topP: 1, minP: 0, seed: 1), logits),
        ]
        for (name, p, logits) in configs {
            var s = try Sampler(parameters: p)
            var sink = 0
            logits.withUnsafeBufferPointer { buffer in
                sink &+= s.sample(logits: buffer, history: history)
                let us = time { sink &+= s.sample(logits: buffer, history: history) }
                print("sampler \(name): \((us * 10).rounded() / 10) µs per call (vocab \(vocab))")
            }
            if sink == Int.min { print(sink) }  // keeps the calls from being optimised away
        }
        let us = time { _ = Logprobs.top(logits, chosen: 3, n: 20) }
        print("Logprobs.top n=20: \((us * 10).rounded() / 10) µs per call")
    }
}
