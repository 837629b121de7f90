import Foundation
import LoomGeneration

/// llama-server's `timings` of a response (`result_timings` in tools/server): how many
/// prompt tokens were evaluated and how long that took, how many tokens were generated and
/// how long that took, and speculative drafts when they ran.
///
/// The prompt phase runs from the job getting a slot to its first token (so it includes the
/// first sampling, as llama.cpp's `t_prompt_processing` does); the generation phase from the
/// first token to the last.
public struct JobTimings: Sendable, Equatable {
    /// Prompt tokens reused from a slot's cache (not evaluated).
    public var cachedTokens = 0
    /// Prompt tokens evaluated.
    public var promptTokens = 0
    public var promptSeconds = 0.0
    /// Tokens generated.
    public var predictedTokens = 0
    public var predictedSeconds = 0.0
    /// Speculative decoding's drafts, when it ran.
    public var speculative: SpeculativeStats?

    public init() {}

    /// The timings of several jobs that ran together (a request's `n` choices or prompts):
    /// token counts add up, times are the longest job's (the wall time the client waited).
    public init(combining parts: [JobTimings]) {
        for p in parts {
            cachedTokens += p.cachedTokens
            promptTokens += p.promptTokens
            predictedTokens += p.predictedTokens
            promptSeconds = max(promptSeconds, p.promptSeconds)
            predictedSeconds = max(predictedSeconds, p.predictedSeconds)
            if let s = p.speculative {
                var total = speculative ?? SpeculativeStats()
                total.drafted += s.drafted
                total.accepted += s.accepted
                total.verifications += s.verifications
                total.plainSteps += s.plainSteps
                total.draftSeconds += s.draftSeconds
                speculative = total
            }
        }
    }

    /// llama.cpp's JSON field names (milliseconds; per-token and per-second rates).
    var json: [String: Any] {
        func rate(_ n: Int, _ seconds: Double) -> (perToken: Double, perSecond: Double) {
            (n > 0 ? seconds * 1000 / Double(n) : 0, seconds > 0 ? Double(n) / seconds : 0)
        }
        let prompt = rate(promptTokens, promptSeconds), predicted = rate(predictedTokens, predictedSeconds)
        var object: [String: Any] = [
            "cache_n": cachedTokens,
            "prompt_n": promptTokens, "prompt_ms": promptSeconds * 1000,
            "prompt_per_token_ms": prompt.perToken, "prompt_per_second": prompt.perSecond,
            "predicted_n": predictedTokens, "predicted_ms": predictedSeconds * 1000,
            "predicted_per_token_ms": predicted.perToken, "predicted_per_second": predicted.perSecond,
        ]
        if let s = speculative {
            object["draft_n"] = s.drafted
            object["draft_n_accepted"] = s.accepted
        }
        return object
    }
}
