import LoomTokenizer

/// A grammar applied to one generation: which tokens may come next, and the state after each
/// chosen token.
///
/// Sampling asks ``allows(_:)`` for the token the unconstrained chain picked first, and only
/// when the grammar rejects it computes the full ``allowedTokens()`` mask and samples again
/// from the masked logits (llama.cpp's `common_sampler_sample` does the same). For tokens the
/// grammar allows, the two-step draw has exactly the distribution of a draw from the masked
/// distribution, since a rejected first draw is redrawn from the allowed tokens in proportion.
/// (With top-k/top-p/min-p the filters see the masked logits only on the second draw.)
///
/// End-of-generation tokens are allowed exactly when the text so far is a complete sentence;
/// control and unused tokens never are.
public struct GrammarConstraint: Sendable {
    public private(set) var matcher: GrammarMatcher
    private let tokenizer: BPETokenizer
    private let endOfGenerationIDs: Set<Int>
    private var trie: TokenTrie?

    public init(grammar: Grammar, tokenizer: BPETokenizer) {
        matcher = GrammarMatcher(grammar: grammar)
        self.tokenizer = tokenizer
        endOfGenerationIDs = tokenizer.endOfGenerationIDs
    }

    /// Whether the text so far may end here.
    public var canEnd: Bool { matcher.canEnd }

    /// Whether the text so far is complete and nothing else may follow.
    public var mustEnd: Bool { matcher.mustEnd }

    /// Whether token `id` may come next.
    public func allows(_ id: Int) -> Bool {
        if endOfGenerationIDs.contains(id) { return matcher.canEnd }
        guard id >= 0, id < tokenizer.vocabularySize, TokenTrie.isText(tokenizer, id) else { return false }
        let bytes = tokenizer.tokenBytes(id)
        return !bytes.isEmpty && matcher.accepts(bytes)
    }

    /// Every token that may come next, as a vocabulary-sized mask.
    public mutating func allowedTokens() -> [Bool] {
        if trie == nil { trie = TokenTrie.shared(for: tokenizer) }
        var allowed = [Bool](repeating: false, count: tokenizer.vocabularySize)
        trie!.markAllowed(by: matcher, in: &allowed)
        if matcher.canEnd {
            for id in endOfGenerationIDs where id < allowed.count { allowed[id] = true }
        }
        return allowed
    }

    /// Advances past token `id`; returns false (unchanged) if the grammar does not allow it.
    /// An end-of-generation token leaves the state as is.
    @discardableResult
    public mutating func accept(_ id: Int) -> Bool {
        if endOfGenerationIDs.contains(id) { return matcher.canEnd }
        guard allows(id) else { return false }
        return matcher.accept(tokenizer.tokenBytes(id))
    }
}
