/// The paragraphs of a corpus for paragraph-level near-deduplication (`dedup --paragraphs`):
/// the same passage (a licence notice, a shared introduction, a copied example) repeated
/// inside documents that are otherwise different, which document-level MinHash keeps.
///
/// Paragraphs are the blocks between blank lines (`\n\n`, how `ingest` and `clean` set off
/// headings, paragraphs and lists). Paragraphs of fewer than `minimumWords` words (headings,
/// "Example:", "Note") are never removed: they are too common to call copies. Each longer
/// paragraph keeps its exact key and MinHash signature (`4 × permutations + 24` bytes; a
/// short one 4 bytes). Once the document clusters are known, paragraphs of removed documents
/// are left out (so a kept paragraph is never dropped in favour of one that is gone), the
/// rest are clustered like documents, and every paragraph but the first of its cluster is
/// removed.
struct ParagraphIndex {
    /// Fewest words of a paragraph that can be removed.
    let minimumWords: Int
    /// Per paragraph, its index among the paragraphs long enough to remove, or −1.
    private var slots: [Int32] = []
    /// Per long paragraph: exact key, signature (`permutations` entries) and document.
    private var keys: [Deduplicator.ExactKey] = []
    private var signatures: SignatureStore
    private var owner: [Int32] = []
    /// Per document, the index of its first paragraph (and one past the last at the end).
    private var firstParagraph: [Int] = [0]
    /// Per long paragraph, after `cluster`: its cluster's first paragraph, and whether it is an exact copy.
    private var representative: [Int] = []
    private var exact: [Bool] = []

    init(minimumWords: Int, permutations: Int) {
        self.minimumWords = minimumWords
        signatures = SignatureStore(width: permutations)
    }

    /// A document's paragraphs, exactly as `dedup` splits and re-joins them.
    static func paragraphs(_ text: String) -> [Substring] {
        text.split(separator: "\n\n", omittingEmptySubsequences: false)
    }

    /// The keys and signatures of one document's paragraphs (computed on any thread).
    static func summarize(_ text: String, hasher: MinHasher, minimumWords: Int) -> [(Deduplicator.ExactKey, [UInt32], Bool)] {
        paragraphs(text).map { paragraph in
            let words = MinHasher.wordHashes(String(paragraph))
            if words.count < minimumWords { return (Deduplicator.ExactKey(a: 0, b: 0), [], true) }
            return (Deduplicator.exactKey(words), hasher.signature(shingles: hasher.shingles(words)), false)
        }
    }

    /// Adds the next document's paragraphs.
    mutating func append(_ summary: [(Deduplicator.ExactKey, [UInt32], Bool)]) {
        let document = Int32(firstParagraph.count - 1)
        for (key, signature, short) in summary {
            if short { slots.append(-1); continue }
            slots.append(Int32(keys.count))
            keys.append(key)
            signatures.append(contentsOf: signature)
            owner.append(document)
        }
        firstParagraph.append(slots.count)
    }

    /// Paragraphs that can be removed.
    var candidates: Int { keys.count }

    /// Clusters the paragraphs of the documents kept (`kept[d]`).
    mutating func cluster(with dedup: Deduplicator, kept: [Bool]) -> (candidates: Int, verified: Int) {
        let leftOut = owner.map { !kept[Int($0)] }
        // A left-out paragraph gets a key of its own, so it joins no exact cluster either.
        var distinctKeys = keys
        for p in 0 ..< keys.count where leftOut[p] { distinctKeys[p] = .init(a: UInt64(p), b: 0xFFFF_FFFF_FFFF_FFFF) }
        let clusters = dedup.findClusters(keys: distinctKeys, signatures: signatures, empty: leftOut)
        signatures.removeAll()
        representative = clusters.representative
        exact = clusters.isExactDuplicate
        return (clusters.candidatePairs, clusters.verifiedPairs)
    }

    /// Document `d`'s text without its repeated paragraphs, and how many were removed (exact, near).
    func deduplicated(_ text: String, document d: Int) throws -> (text: String, exact: Int, near: Int) {
        let parts = Self.paragraphs(text)
        let first = firstParagraph[d]
        guard first + parts.count == firstParagraph[d + 1] else { throw DataError("the input changed while it was being deduplicated") }
        var kept: [Substring] = []
        var exactRemoved = 0
        var nearRemoved = 0
        for (k, part) in parts.enumerated() {
            let slot = Int(slots[first + k])
            if slot >= 0 && representative[slot] != slot {
                if exact[slot] { exactRemoved += 1 } else { nearRemoved += 1 }
                continue
            }
            kept.append(part)
        }
        if exactRemoved + nearRemoved == 0 { return (text, 0, 0) }
        return (kept.joined(separator: "\n\n"), exactRemoved, nearRemoved)
    }
}
