import ArgumentParser
import Foundation
import LoomGeneration
import LoomModels

/// Speculative decoding flags shared by `run`, `chat` and `serve` (llama.cpp's names:
/// `common/arg.cpp` `--model-draft`, `--draft-max`, `--draft-min`, `--draft-p-min`; the
/// n-gram sizes follow transformers' `max_matching_ngram_size`).
struct DraftOptions: ParsableArguments {
    @Flag(help: "Speculative decoding with prompt-lookup drafts: tokens that followed the last n-gram earlier in the context.")
    var lookup = false
    @Option(name: .customLong("lookup-ngram-min"), parsing: .unconditional, help: "Shortest n-gram --lookup matches (default 1).")
    var lookupNgramMin: Int = 1
    @Option(name: .customLong("lookup-ngram-max"), parsing: .unconditional, help: "Longest n-gram --lookup matches (default 3).")
    var lookupNgramMax: Int = 3
    @Option(name: [.customLong("model-draft"), .customLong("md", withSingleDash: true)],
            help: "Speculative decoding with this draft model (same tokenizer): GGUF file, HF directory or model name.")
    var modelDraft: String?
    @Option(name: [.customLong("draft-max"), .customLong("draft")], parsing: .unconditional,
            help: "Most draft tokens verified per step, 1–14 (default 8).")
    var draftMax: Int?
    @Option(name: .customLong("draft-min"), parsing: .unconditional, help: "Fewest draft tokens worth a verification batch (default 0).")
    var draftMin: Int?
    @Option(name: .customLong("draft-p-min"), parsing: .unconditional,
            help: "The draft model stops drafting at a token it gives less than this probability (default 0.8).")
    var draftPMin: Float?

    func validate() throws {
        if lookup && modelDraft != nil { throw ValidationError("--lookup and --model-draft exclude each other; give one") }
        if !lookup && modelDraft == nil {
            let given = [draftMax.map { _ in "--draft-max" }, draftMin.map { _ in "--draft-min" }, draftPMin.map { _ in "--draft-p-min" }]
                .compactMap { $0 }
            if let flag = given.first { throw ValidationError("\(flag) needs --lookup or --model-draft") }
        }
        if !lookup && (lookupNgramMin != 1 || lookupNgramMax != 3) {
            throw ValidationError("--lookup-ngram-min/--lookup-ngram-max need --lookup")
        }
        if lookup && draftPMin != nil { throw ValidationError("--draft-p-min applies to --model-draft, not --lookup") }
        do { try options?.validate() } catch { throw ValidationError("\(error)") }
    }

    /// The speculative decoding settings, nil without --lookup or --model-draft.
    var options: SpeculativeOptions? {
        let source: SpeculativeOptions.Source
        if lookup {
            source = .promptLookup(ngramMin: lookupNgramMin, ngramMax: lookupNgramMax)
        } else if modelDraft != nil {
            source = .draftModel
        } else {
            return nil
        }
        var options = SpeculativeOptions(source: source)
        if let draftMax { options.draftMax = draftMax }
        if let draftMin { options.draftMin = draftMin }
        if let draftPMin { options.draftPMin = draftPMin }
        return options
    }

    /// Loads the draft model of --model-draft, if given, and attaches it to `generator`: its
    /// session has the generator's context length and shares its worker threads.
    func attach(to generator: Generator, offline: Bool) throws {
        guard let modelDraft else { return }
        ModelLocator.goOffline(offline)
        let draft = try LanguageModel(path: try ModelLocator.resolve(modelDraft))
        draft.cacheTypes = generator.model.cacheTypes
        let session = try draft.makeSession(contextLength: generator.session.capacity, pool: generator.session.pool)
        try generator.attachDraft(session: session)
    }
}

extension GenerationResult {
    /// The `--stats` line of speculative decoding: drafted and accepted tokens, the acceptance
    /// rate, and tokens per forward pass (plain decoding: 1), the speed-up's upper bound.
    var speculativeSummary: String? {
        guard let s = speculative else { return nil }
        return String(format: "speculative: drafted %d, accepted %d (%.1f %%); %d verification batches + %d one-token steps; "
                        + "%.2f tokens per forward pass (plain decoding: 1.00); drafting %.3f s",
                      s.drafted, s.accepted, 100 * s.acceptanceRate, s.verifications, s.plainSteps,
                      s.tokensPerStep(generated: tokens.count), s.draftSeconds)
    }
}
