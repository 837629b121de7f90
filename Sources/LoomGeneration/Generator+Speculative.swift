import Foundation
import LoomModels

extension Generator {
    /// The speculative decoding loop (``SpeculativeOptions``), from the first generated token
    /// (`state.tokenToEvaluate`) until `state` ends. Each step:
    /// 1. drafts up to `draftMax` tokens after the history (fewer near the context's end or
    ///    `maxTokens`: drafts past them could never be used);
    /// 2. with fewer than `draftMin` (at least one), takes a plain one-token step;
    /// 3. otherwise evaluates [last token, drafts…] in one batch
    ///    (``InferenceSession/evaluateDraft(_:eachPosition:)``) and hands each position's
    ///    logits to `state` in order, exactly as one-token steps would: while the token it
    ///    chooses is the next draft token, the draft token is the model's own and the next
    ///    position's logits are valid; the first token that differs (or the bonus token after
    ///    the last draft) is the model's own choice and becomes the next step's last token;
    /// 4. drops the positions after the last kept token from the cache
    ///    (``InferenceSession/truncate(to:)``).
    func generateSpeculatively(
        _ spec: SpeculativeOptions, state: inout GenerationState, text: inout String, shifts: inout Int,
        onToken: (GeneratedToken) -> Bool
    ) throws -> SpeculativeStats {
        var stats = SpeculativeStats()
        let options = state.options
        var lookup: PromptLookup?
        if case let .promptLookup(ngramMin, ngramMax) = spec.source { lookup = PromptLookup(ngramMin: ngramMin, ngramMax: ngramMax) }
        let needed = max(1, spec.draftMin)
        while let next = state.tokenToEvaluate {
            // The batch holds `next` and the drafts; a draft beyond the last token `maxTokens`
            // allows is never used (the batch's first position already yields one token).
            let room = min(spec.draftMax, session.capacity - session.position - 1,
                           options.maxTokens - state.generatedCount - 1, InferenceSession.maxBatch - 1)
            var drafts: [Int] = []
            if room >= needed {
                let start = Date()
                if let lookup {
                    drafts = lookup.draft(context: state.history, count: room)
                } else if let draft {
                    drafts = try draft.draft(context: state.history, count: room, pMin: spec.draftPMin)
                }
                stats.draftSeconds += Date().timeIntervalSince(start)
            }
            if drafts.count < needed {
                let logits = try evaluateNext(next, promptCount: state.promptCount, options: options, shifts: &shifts)
                stats.plainSteps += 1
                if let token = state.advance(logits: logits).token {
                    text += token.text
                    if !onToken(token) { state.cancel() }
                }
                continue
            }
            let start = session.position
            let batch = [next] + drafts
            var kept = batch.count
            var accepted = 0
            var emitted = ""
            var cancelled = false
            try session.evaluateDraft(batch) { i, logits in
                let step = state.advance(logits: logits)
                if let token = step.token {
                    emitted += token.text
                    if i < drafts.count && token.id == drafts[i] { accepted += 1 }
                    if !onToken(token) { cancelled = true }
                }
                if cancelled { state.cancel() }
                guard let chosen = state.tokenToEvaluate, i < drafts.count, chosen == drafts[i] else {
                    kept = i + 1
                    return false
                }
                return true
            }
            text += emitted
            session.truncate(to: start + kept)
            appendCached(Array(batch[..<kept]))
            stats.verifications += 1
            stats.drafted += drafts.count
            stats.accepted += accepted
        }
        return stats
    }
}
