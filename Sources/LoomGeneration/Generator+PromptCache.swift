import Foundation
import LoomModels

// llama.cpp's `--prompt-cache` for the generation loop: the evaluated prefix on disk.

extension Generator {
    /// Loads a prompt cache written by ``savePromptCache(to:tokens:)``: the session holds its
    /// tokens' keys and values, and the next ``generate(prompt:options:onToken:)`` evaluates
    /// only what its prompt does not share with them (``reusablePrefixLength(of:)``), so that
    /// its answer is bit-identical to a fresh run's.
    /// Returns the number of cached tokens.
    ///
    /// - Throws: ``SessionStateError`` when the file is not a prompt cache, is truncated, or
    ///   was saved with another model, adapter set, RoPE setting or KV cache type; the
    ///   session is then unchanged.
    @discardableResult
    public func loadPromptCache(from url: URL) throws -> Int {
        let tokens = try session.loadState(from: url)
        cachedTokens = tokens
        alignsReuseToChunks = true
        return tokens.count
    }

    /// Saves the first `count` cached tokens (all of them by default) and their keys and
    /// values to `url`, atomically.
    public func savePromptCache(to url: URL, tokens count: Int? = nil) throws {
        let n = min(count ?? cachedTokens.count, cachedTokens.count, session.position)
        try session.saveState(tokens: Array(cachedTokens[..<n]), to: url)
    }

    /// How many leading tokens of `prompt` the cache already holds (what the next
    /// ``generate(prompt:options:onToken:)`` will not evaluate again, give or take the two
    /// tokens it always evaluates).
    public func cachedPrefixLength(of prompt: [Int]) -> Int {
        var shared = 0
        let limit = min(cachedTokens.count, prompt.count, session.position)
        while shared < limit && cachedTokens[shared] == prompt[shared] { shared += 1 }
        return shared
    }
}
