import Foundation

/// Identifies the language of a text with a character n-gram naive-Bayes classifier
/// (Cavnar and Trenkle 1994 used n-gram profiles; Dunning 1994, "Statistical identification
/// of language", the Bayesian form), trained when first used from the sentences Loom ships
/// in `LanguageSamples.swift` (Debian Reference in nine languages; see its header for source
/// and licence): en, de, fr, es, it, pt, id, ja, zh.
///
/// Text is lowercased, every run of non-letters becomes one space, and the features are the
/// character 1- to 3-grams of the first `maxCharacters` characters, padded with spaces.
/// P(n-gram | language) uses add-α smoothing over the n-grams of all languages.
///
/// The score is the posterior of the best language when every text is weighed as if it had
/// `evidence` n-grams (the mean log-likelihood per n-gram times `evidence`), so it measures
/// how clearly the text reads as that language, not how long it is: clean prose scores
/// near 1, code, tables and mixed-language text lower.
public struct LanguageIdentifier: Sendable {
    /// The languages known, ISO 639-1.
    public let languages: [String]
    private let logProbability: [UInt64: [Float]]
    private let unseen: [Float]
    /// Highest n-gram order.
    public let order: Int
    /// Characters of a text looked at.
    public var maxCharacters = 2000
    /// The n-grams a text counts as, for the score.
    public var evidence = 20.0

    /// The identifier trained on the shipped samples (built once, on first use).
    public static let shared = LanguageIdentifier(samples: samples)

    /// Trains on `samples` (language code, text).
    public init(samples: [(language: String, text: String)], order: Int = 3, alpha: Double = 0.5) {
        self.order = order
        languages = samples.map(\.language)
        var counts: [UInt64: [Int]] = [:]
        var totals = [Int](repeating: 0, count: samples.count)
        for (l, sample) in samples.enumerated() {
            Self.forEachNGram(Self.prepare(sample.text, limit: Int.max), order: order) { g in
                counts[g, default: [Int](repeating: 0, count: samples.count)][l] += 1
                totals[l] += 1
            }
        }
        let vocabulary = Double(counts.count)
        var table: [UInt64: [Float]] = [:]
        table.reserveCapacity(counts.count)
        for (g, c) in counts {
            table[g] = (0 ..< c.count).map { Float(log((Double(c[$0]) + alpha) / (Double(totals[$0]) + alpha * vocabulary))) }
        }
        logProbability = table
        unseen = totals.map { Float(log(alpha / (Double($0) + alpha * vocabulary))) }
    }

    /// Lowercased letters (and marks) with every other run of characters as one space.
    static func prepare(_ text: String, limit: Int) -> [UInt32] {
        var out: [UInt32] = [0x20]
        var taken = 0
        for scalar in text.unicodeScalars {
            if taken >= limit { break }
            taken += 1
            let p = scalar.properties
            if p.isAlphabetic || p.generalCategory == .nonspacingMark || p.generalCategory == .spacingMark {
                if scalar.isASCII {
                    let v = scalar.value
                    out.append(v >= 0x41 && v <= 0x5A ? v | 0x20 : v)
                } else {
                    out.append(contentsOf: p.lowercaseMapping.unicodeScalars.map(\.value))
                }
            } else if out.last != 0x20 {
                out.append(0x20)
            }
        }
        if out.last != 0x20 { out.append(0x20) }
        return out
    }

    /// Calls `body` with the hash of every 1- to `order`-gram of `chars` (n-grams of spaces only skipped).
    static func forEachNGram(_ chars: [UInt32], order: Int, _ body: (UInt64) -> Void) {
        guard chars.count > 1 else { return }
        for i in 0 ..< chars.count {
            var h = UInt64(0xCBF2_9CE4_8422_2325)
            for n in 1 ... order where i + n <= chars.count {
                h = StableHash.combine(h, UInt64(chars[i + n - 1]))
                if n == 1 && chars[i] == 0x20 { continue }
                body(h ^ UInt64(n))
            }
        }
    }

    /// The most likely language of `text` and its score in [0, 1]; `("und", 0)` for a text
    /// without letters.
    public func identify(_ text: String) -> (language: String, score: Double) {
        let chars = Self.prepare(text, limit: maxCharacters)
        var sums = [Double](repeating: 0, count: languages.count)
        var grams = 0
        Self.forEachNGram(chars, order: order) { g in
            grams += 1
            let row = logProbability[g] ?? unseen
            for l in 0 ..< sums.count { sums[l] += Double(row[l]) }
        }
        guard grams > 0, !languages.isEmpty else { return ("und", 0) }
        let scaled = sums.map { $0 / Double(grams) * evidence }
        let best = scaled.indices.max { scaled[$0] < scaled[$1] }!
        let total = scaled.reduce(0) { $0 + exp($1 - scaled[best]) }
        return (languages[best], 1 / total)
    }
}
