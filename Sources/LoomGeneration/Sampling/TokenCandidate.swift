/// A token id with its (possibly biased or penalised) logit: the unit the sampler's filters
/// sort and cut. 8 bytes so that a vocabulary-sized list stays compact.
struct TokenCandidate: Equatable, Sendable {
    var id: Int32
    var logit: Float

    init(id: Int, logit: Float) {
        self.id = Int32(truncatingIfNeeded: id)
        self.logit = logit
    }

    /// The sampler's total order: higher logit first, equal logits by lower id. Fixing the tie
    /// order makes every filter deterministic (llama.cpp leaves ties to `std::partial_sort`).
    @inline(__always)
    static func ranksBefore(_ a: TokenCandidate, _ b: TokenCandidate) -> Bool {
        a.logit > b.logit || (a.logit == b.logit && a.id < b.id)
    }
}
