/// Cuts streamed generated text at the first stop string, never showing any part of one.
///
/// **Unit of matching: Unicode scalars.** Text arrives in pieces (one detokenised token at a
/// time), and a grapheme cluster (`Character`) can change when later text arrives: `"e"` becomes
/// `"é"` when U+0301 follows. Prefix logic on Characters would therefore give answers that depend
/// on where the pieces were split. Scalars are fixed once received, so every decision here is the
/// same however the text is split. Consequences: matching is exact on scalar sequences (no
/// Unicode normalisation: a precomposed stop "é" does not match a decomposed "e\u{301}"), and a
/// stop may match inside a grapheme cluster (stop "e" matches the start of "e\u{301}"). Emitted
/// pieces never split a scalar, so they are always valid strings.
///
/// **Which stop wins.** Generation stops the moment any stop string is complete, i.e. at the
/// earliest *end* position over all occurrences of all stops; among stops completing at that
/// position the longest (earliest-starting) one is cut. This equals feeding the text one scalar
/// at a time, so it does not depend on the split. It differs from "first *start* in the whole
/// text" only when a stop completes inside another, longer stop that started earlier: with stops
/// `["abcd", "bc"]` and text `"abcd"` the output is `"a"` (the stream ends when `"bc"` completes;
/// the `"d"` that would complete `"abcd"` is never generated).
///
/// **Hold-back.** After each append, the longest suffix of the text that is a proper prefix of
/// some stop is held back; everything before it is emitted. One Knuth–Morris–Pratt automaton per
/// stop tracks that suffix, so each scalar costs O(number of stops) amortised.
///
/// Empty stop strings are ignored (they would stop before any text).
public struct StopSequenceMatcher: Sendable {
    /// The stops as scalar arrays (empty ones dropped).
    private let stops: [[Unicode.Scalar]]
    /// KMP failure function per stop: `failure[k][i]` is the length of the longest proper
    /// border of `stops[k][0...i]`.
    private let failure: [[Int]]
    /// Per stop, the length of the longest prefix of it that is a suffix of the text so far.
    private var matched: [Int]
    /// Received but not yet emitted scalars: always a suffix of the text, at most as long as the
    /// longest stop.
    private var pending: [Unicode.Scalar] = []
    /// The stop string that ended generation, once one has.
    public private(set) var matchedStop: String?

    /// Creates a matcher for `stops`.
    public init(stops: [String]) {
        let scalarStops = stops.map { Array($0.unicodeScalars) }.filter { !$0.isEmpty }
        self.stops = scalarStops
        failure = scalarStops.map(Self.failureFunction)
        matched = Array(repeating: 0, count: scalarStops.count)
    }

    /// Whether a stop string has been completed; further appends then emit nothing.
    public var isStopped: Bool { matchedStop != nil }

    /// Feed newly decoded text; returns the text that is safe to show now (everything that can no
    /// longer be the start of a stop string) and whether a stop string was completed (text from
    /// the stop on is never returned).
    public mutating func append(_ text: String) -> (emit: String, stopped: Bool) {
        guard !isStopped else { return ("", true) }
        for scalar in text.unicodeScalars {
            pending.append(scalar)
            var completed = -1  // index of the longest stop completed at this scalar
            for k in stops.indices {
                let length = advance(k, with: scalar)
                if length == stops[k].count && (completed < 0 || length > stops[completed].count) {
                    completed = k
                }
            }
            if completed >= 0 {
                let stopLength = stops[completed].count
                let emit = Self.string(pending[..<(pending.count - stopLength)])
                matchedStop = Self.string(stops[completed][...])
                pending.removeAll()
                return (emit, true)
            }
        }
        let hold = matched.max() ?? 0
        let emit = Self.string(pending[..<(pending.count - hold)])
        pending.removeFirst(pending.count - hold)
        return (emit, false)
    }

    /// End of generation without a stop: returns the held-back remainder.
    ///
    /// The matcher then starts afresh (nothing held back). After a stop it returns "".
    public mutating func flush() -> String {
        let rest = Self.string(pending[...])
        pending.removeAll()
        for k in matched.indices { matched[k] = 0 }
        return rest
    }

    /// Advances stop `k`'s automaton by one scalar and returns its new matched length.
    private mutating func advance(_ k: Int, with scalar: Unicode.Scalar) -> Int {
        let stop = stops[k]
        var length = matched[k]
        // A full match never survives (generation ends), so `length < stop.count` here.
        while length > 0 && stop[length] != scalar {
            length = failure[k][length - 1]
        }
        if stop[length] == scalar { length += 1 }
        matched[k] = length
        return length
    }

    private static func failureFunction(_ pattern: [Unicode.Scalar]) -> [Int] {
        var table = [Int](repeating: 0, count: pattern.count)
        var length = 0
        for i in pattern.indices.dropFirst() {
            while length > 0 && pattern[i] != pattern[length] {
                length = table[length - 1]
            }
            if pattern[i] == pattern[length] { length += 1 }
            table[i] = length
        }
        return table
    }

    private static func string(_ scalars: ArraySlice<Unicode.Scalar>) -> String {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars)
        return String(view)
    }
}
