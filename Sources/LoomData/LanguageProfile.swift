/// The character n-gram frequencies of one language, as `LanguageIdentifier` uses them.
///
/// The shipped profiles are langdetect's (Apache License 2.0; see the headers of
/// `LanguageProfiles/*.swift`), converted by `scripts/gen_langid_profiles.py`.
public struct LanguageProfile: Sendable {
    /// ISO 639-1 code.
    public let language: String
    /// Total 1-, 2- and 3-grams counted in the language's training text (the denominators).
    public let nWords: (Int, Int, Int)
    /// Lines `n-gram TAB count`, n-grams in `LanguageIdentifier.prepare`'s form.
    let table: String

    /// A profile from its n-gram counts and its per-order totals.
    public init(language: String, nWords: (Int, Int, Int), table: String) {
        self.language = language
        self.nWords = nWords
        self.table = table
    }

    /// The n-grams and their counts; a malformed line is a programming error in a generated file.
    func entries() -> [(gram: String, count: Int)] {
        table.split(separator: "\n").map { line in
            let parts = line.split(separator: "\t", omittingEmptySubsequences: false)
            precondition(parts.count == 2, "malformed language profile line \(line)")
            return (String(parts[0]), Int(parts[1])!)
        }
    }

    /// The languages Loom identifies.
    public static let shipped: [LanguageProfile] = [
        profileEN, profileDE, profileFR, profileES, profileIT, profilePT, profileID, profileJA, profileZH,
    ]

    /// Every kanji of a class → the class's first one (langdetect's CJK normalisation).
    static let kanjiRepresentative: [UInt32: UInt32] = {
        var map: [UInt32: UInt32] = [:]
        for cls in kanjiClasses {
            guard let first = cls.unicodeScalars.first?.value else { continue }
            for scalar in cls.unicodeScalars { map[scalar.value] = first }
        }
        return map
    }()
}
