import Dispatch
import Foundation
import LoomJinja

/// `loom data dedup`: removes exact duplicates (same normalised text) and near duplicates
/// (MinHash + LSH), keeping the first document of each cluster, and writes the clusters.
///
/// Pass 1 streams the input and keeps, per document, only its id, source, a 128-bit hash of
/// its normalised words and its MinHash signature (`4 × permutations` bytes), never the text.
/// Memory is one batch of records (`RecordStream.maxBatchBytes`) plus, per document, the
/// signature (in `SignatureStore` blocks), the id and source strings (about 50 + their
/// lengths each), about 60 bytes of keys, flags and cluster indices, and 16 bytes for each
/// band in flight (one per core): about 0.75 KB per document at 128 permutations. It grows
/// with the number of documents, not with their size. Candidates come from LSH
/// bands, one band at a time on each core; a candidate pair counts as a near duplicate
/// when its signatures agree on at least `threshold` of the entries. Clusters are the
/// connected components (union-find). Pass 2 streams the input again and writes each
/// cluster's first document; `OUT.clusters.jsonl` lists every cluster of two or more. With
/// `paragraphs`, pass 1 also signs each paragraph and pass 2 removes the paragraphs of kept
/// documents that repeat an earlier one (see `ParagraphIndex`).
public struct Deduplicator {
    /// The MinHash signer.
    public var hasher: MinHasher
    /// The banding.
    public var lsh: LSHParameters
    /// The Jaccard similarity at or above which documents are near duplicates.
    public var threshold: Double
    /// Also remove near duplicates (exact duplicates are always removed).
    public var nearDuplicates = true
    /// Documents kept per LSH bucket for verification (bounds the work of huge buckets).
    public var bucketCandidates = 8
    /// Clusters listed in the statistics (all are in the clusters file).
    public var reportedClusters = 20
    /// Also remove near-duplicate paragraphs of the documents kept (see `ParagraphIndex`).
    public var paragraphs = false
    /// Paragraphs shorter than this many words are never removed.
    public var minParagraphWords = 20
    /// Continue from the checkpoint of an interrupted run (see `ResumableOutput`).
    public var resume = false

    /// A deduplicator.
    public init(hasher: MinHasher, lsh: LSHParameters, threshold: Double) {
        self.hasher = hasher
        self.lsh = lsh
        self.threshold = threshold
    }

    struct ExactKey: Hashable { var a: UInt64; var b: UInt64 }

    /// The exact-duplicate key of a document's words: two independent 64-bit hash chains.
    static func exactKey(_ words: [UInt64]) -> ExactKey {
        var a: UInt64 = 0x1234_5678
        var b: UInt64 = 0x8765_4321 ^ UInt64(words.count)
        for w in words {
            a = StableHash.combine(a, w)
            b = StableHash.finalize(b &+ w &* 0x9E37_79B9_7F4A_7C15) ^ (b >> 7)
        }
        return ExactKey(a: a, b: b)
    }

    /// Clusters found by `findClusters`.
    public struct Clusters {
        /// Per document, the index of its cluster's representative (itself if kept).
        public var representative: [Int]
        /// Per document, true if it is an exact copy of an earlier one.
        public var isExactDuplicate: [Bool]
        /// Candidate pairs checked against the threshold, and those that passed.
        public var candidatePairs = 0
        public var verifiedPairs = 0
    }

    /// Clusters of documents given their exact keys and signatures (one per document).
    /// Documents sharing a key are exact copies and skip the LSH search unless
    /// `searchExactCopies` (for keys that group different texts, as `format`'s split does).
    ///
    /// Each band is processed on its own core: the band's hash of every document searched
    /// is sorted (16 bytes per document, instead of a dictionary of arrays), and in each run
    /// of equal hashes a document is verified against the first `bucketCandidates`
    /// documents of the run before it, in input order, up to the first that passes.
    func findClusters(keys: [ExactKey], signatures: SignatureStore, empty: [Bool], searchExactCopies: Bool = false) -> Clusters {
        let n = keys.count
        var sets = UnionFind(count: n)
        var isExact = [Bool](repeating: false, count: n)
        var firstOfKey: [ExactKey: Int] = [:]
        for i in 0 ..< n {
            if let first = firstOfKey[keys[i]] { sets.union(first, i); isExact[i] = true } else { firstOfKey[keys[i]] = i }
        }
        firstOfKey = [:]
        let exactFlags = searchExactCopies ? [Bool](repeating: false, count: n) : isExact
        var candidates = 0
        var verified = 0
        if nearDuplicates && n > 1 {
            precondition(signatures.count == n, "\(signatures.count) signatures for \(n) documents")
            let p = hasher.permutations
            let rows = lsh.rows
            let needed = Int((threshold * Double(p)).rounded(.up))
            let searched = (0 ..< n).filter { !exactFlags[$0] && !empty[$0] }.map { Int32($0) }
            var pairsPerBand = [[(Int32, Int32)]](repeating: [], count: lsh.bands)
            var counts = [(Int, Int)](repeating: (0, 0), count: lsh.bands)
            let maxBucket = bucketCandidates
            pairsPerBand.withUnsafeMutableBufferPointer { out in
                counts.withUnsafeMutableBufferPointer { countOut in
                    DispatchQueue.concurrentPerform(iterations: lsh.bands) { band in
                        // (band hash, document); sorting keeps equal hashes in input order.
                        var entries = searched.map { i -> (UInt64, Int32) in
                            let sig = signatures.row(Int(i)) + band * rows
                            var h = UInt64(band) &* 0x9E37_79B9_7F4A_7C15
                            for r in 0 ..< rows { h = StableHash.combine(h, UInt64(sig[r])) }
                            return (h, i)
                        }
                        entries.sort { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
                        var pairs: [(Int32, Int32)] = []
                        var checked = 0
                        var runStart = 0
                        for k in 0 ..< entries.count {
                            if entries[k].0 != entries[runStart].0 { runStart = k }
                            let i = entries[k].1
                            let y = signatures.row(Int(i))
                            for m in runStart ..< min(k, runStart + maxBucket) {
                                checked += 1
                                let x = signatures.row(Int(entries[m].1))
                                var equal = 0
                                for e in 0 ..< p where x[e] == y[e] { equal += 1 }
                                if equal >= needed { pairs.append((entries[m].1, i)); break }
                            }
                        }
                        out[band] = pairs
                        countOut[band] = (checked, pairs.count)
                    }
                }
            }
            for band in 0 ..< lsh.bands {
                candidates += counts[band].0
                verified += counts[band].1
                for (x, y) in pairsPerBand[band] { sets.union(Int(x), Int(y)) }
            }
        }
        var representative = [Int](repeating: 0, count: n)
        for i in 0 ..< n { representative[i] = sets.find(i) }
        return Clusters(representative: representative, isExactDuplicate: isExact, candidatePairs: candidates, verifiedPairs: verified)
    }

    /// Deduplicates `input` into `output` (atomically), writing `OUT.clusters.jsonl` and the statistics sidecar.
    public func run(input: String, output: String) throws -> StageStats {
        let started = Date()
        var stats = StageStats(stage: "dedup", inputs: [input], output: output)
        var ids: [String] = []
        var sources: [String] = []
        var keys: [ExactKey] = []
        var empty: [Bool] = []
        let signatures = SignatureStore(width: hasher.permutations)
        var paragraphIndex = ParagraphIndex(minimumWords: minParagraphWords, permutations: hasher.permutations)
        var scan = StageStats(stage: "dedup-scan", inputs: [input], output: output)
        try RecordStream.forEachBatch(path: input, stats: &scan) { batch, _ in
            let computed = RecordStream.parallelMap(batch) { record -> (ExactKey, [UInt32], Bool) in
                let words = MinHasher.wordHashes(record.text)
                let key = Self.exactKey(words)
                let signature = nearDuplicates ? hasher.signature(shingles: hasher.shingles(words)) : []
                return (key, signature, words.isEmpty)
            }
            if paragraphs {
                let summaries = RecordStream.parallelMap(batch) { ParagraphIndex.summarize($0.text, hasher: hasher, minimumWords: minParagraphWords) }
                for summary in summaries { paragraphIndex.append(summary) }
            }
            for (record, (key, signature, isEmpty)) in zip(batch, computed) {
                ids.append(record.id)
                sources.append(record.source)
                keys.append(key)
                empty.append(isEmpty)
                signatures.append(contentsOf: signature)
            }
        }
        let clusters = findClusters(keys: keys, signatures: signatures, empty: empty)
        signatures.removeAll()
        stats.count("lsh_candidate_pairs", clusters.candidatePairs)
        stats.count("lsh_verified_pairs", clusters.verifiedPairs)
        if paragraphs {
            let kept = (0 ..< ids.count).map { clusters.representative[$0] == $0 }
            let (candidates, verified) = paragraphIndex.cluster(with: self, kept: kept)
            stats.count("paragraphs_checked", paragraphIndex.candidates)
            stats.count("paragraph_lsh_candidate_pairs", candidates)
            stats.count("paragraph_lsh_verified_pairs", verified)
        }

        // Cluster members, by representative.
        var members: [Int: [Int]] = [:]
        for i in 0 ..< ids.count where clusters.representative[i] != i {
            members[clusters.representative[i], default: [clusters.representative[i]]].append(i)
        }
        let clusterWriter = try AtomicFileWriter(path: output + ".clusters.jsonl")
        let ordered = members.sorted { $0.value.count != $1.value.count ? $0.value.count > $1.value.count : $0.key < $1.key }
        var reported: [JSONValue] = []
        for (root, list) in ordered {
            let exact = list.dropFirst().allSatisfy { clusters.isExactDuplicate[$0] }
            let cluster: JSONObject = [
                "representative": .string(ids[root]), "source": .string(sources[root]), "size": .integer(list.count),
                "kind": .string(exact ? "exact" : "near"),
                "members": .array(list.map { .string(ids[$0]) }),
            ]
            var line: [UInt8] = []
            JSONWriter.write(.object(cluster), into: &line)
            line.append(0x0A)
            try clusterWriter.write(line)
            if reported.count < reportedClusters {
                var summary = cluster
                summary["members"] = .array(list.prefix(10).map { .string(sources[$0]) })
                reported.append(.object(summary))
            }
        }
        try clusterWriter.commit()
        stats.count("clusters", members.count)
        stats.details["largest_clusters"] = .array(reported)
        stats.details["clusters_file"] = .string(output + ".clusters.jsonl")
        stats.details["parameters"] = .object([
            "shingle": .integer(hasher.shingleSize), "num_perm": .integer(hasher.permutations),
            "bands": .integer(lsh.bands), "rows": .integer(lsh.rows), "threshold": .number(threshold),
            "paragraphs": .bool(paragraphs), "min_paragraph_words": .integer(minParagraphWords),
        ])

        // Pass 1 and the clusters are recomputed (deterministically); pass 2 resumes.
        let writer = try ResumableOutput(path: output, input: input, resume: resume, stats: &stats)
        var index = stats.documentsIn  // records already read by the interrupted run
        try RecordStream.forEachBatch(path: input, startLine: writer.resumeLine, stats: &stats, afterBatch: writer.checkpoint) { batch, stats in
            var buffer: [UInt8] = []
            var kept: [DataRecord] = []
            for var record in batch {
                defer { index += 1 }
                // The input must not have changed between the passes.
                guard index < ids.count, ids[index] == record.id else {
                    throw DataError("\(input) changed while it was being deduplicated")
                }
                if clusters.representative[index] != index {
                    stats.count(clusters.isExactDuplicate[index] ? "exact_duplicates_removed" : "near_duplicates_removed")
                    continue
                }
                if paragraphs {
                    let (text, exact, near) = try paragraphIndex.deduplicated(record.text, document: index)
                    if exact + near > 0 {
                        stats.count("exact_duplicate_paragraphs_removed", exact)
                        stats.count("near_duplicate_paragraphs_removed", near)
                        stats.count("documents_with_paragraphs_removed")
                        if text.allSatisfy(\.isWhitespace) { stats.count("documents_emptied_by_paragraph_dedup"); continue }
                        record.text = text
                    }
                }
                kept.append(record)
            }
            RecordStream.encode(kept, into: &buffer, stats: &stats)
            try writer.write(buffer)
        }
        try writer.commit()
        stats.seconds = Date().timeIntervalSince(started)
        try stats.writeSidecar()
        return stats
    }
}
