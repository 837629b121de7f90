import Foundation

/// The banding of MinHash signatures for locality-sensitive hashing (Leskovec, Rajaraman and
/// Ullman, "Mining of Massive Datasets", §3.4): `bands` bands of `rows` rows; two documents
/// become candidates when all rows of some band agree, which happens with probability
/// `1 − (1 − s^rows)^bands` at Jaccard similarity `s`.
public struct LSHParameters: Sendable, Equatable {
    /// Bands.
    public let bands: Int
    /// Rows (signature entries) per band.
    public let rows: Int

    /// Explicit banding; `bands × rows` must not exceed the signature length.
    public init(bands: Int, rows: Int, permutations: Int) throws {
        guard bands >= 1, rows >= 1 else { throw DataError("--bands and --rows must be at least 1 (got \(bands) and \(rows))") }
        guard bands * rows <= permutations else {
            throw DataError("--bands × --rows (\(bands) × \(rows) = \(bands * rows)) is more than --num-perm \(permutations)")
        }
        self.bands = bands
        self.rows = rows
    }

    /// Recall-oriented banding for `threshold`: the most rows per band (fewest spurious
    /// candidates) that still make a pair at the threshold a candidate with probability
    /// ≥ 0.99. Candidates are then verified against the threshold on their signatures, so
    /// the banding only has to not miss pairs; precision comes from the verification.
    public init(threshold: Double, permutations: Int) throws {
        guard threshold > 0 && threshold < 1 else { throw DataError("--threshold must be between 0 and 1 (got \(threshold))") }
        var best = (bands: permutations, rows: 1)
        for rows in 1 ... permutations {
            let bands = permutations / rows
            if bands < 1 { break }
            if Self.candidateProbability(threshold, bands: bands, rows: rows) >= 0.99 { best = (bands, rows) }
        }
        try self.init(bands: best.bands, rows: best.rows, permutations: permutations)
    }

    /// The probability that a pair of Jaccard similarity `s` becomes a candidate.
    public static func candidateProbability(_ s: Double, bands: Int, rows: Int) -> Double {
        1 - pow(1 - pow(s, Double(rows)), Double(bands))
    }
}
