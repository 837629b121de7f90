/// Hand-written equivalents of the pre-tokenizer regular expressions, run over one fragment of
/// text decoded to Unicode scalars plus their `ScalarClass` flags.
///
/// Each expression is an alternation tried left to right at the current position, so the
/// scanner does the same: the first alternative that can match decides the word, and the
/// greedy/backtracking behaviour of each alternative is spelled out where it matters (`(?!\S)`
/// and `\s*[\r\n]+`). Every scalar is covered by some alternative, so words tile the fragment.
struct PreTokenizerScanner {
    let kind: PreTokenizer

    private static let L = ScalarClass.letter
    private static let N = ScalarClass.number
    private static let W = ScalarClass.whitespace
    private static let NL = ScalarClass.newline
    private static let SP = ScalarClass.space
    private static let LNW = ScalarClass.letter | ScalarClass.number | ScalarClass.whitespace

    /// Appends the exclusive end index of every word of `scalars` to `ends` (scalar indices).
    func split(scalars: UnsafeBufferPointer<UInt32>, flags: UnsafeBufferPointer<UInt8>, into ends: inout [Int]) {
        let n = scalars.count
        switch kind {
        case .gpt2:
            var i = 0
            while i < n {
                i = Self.gpt2Word(scalars, flags, from: i, end: n)
                ends.append(i)
            }
        case .smollm:
            // First pass `\p{N}` (isolated): each number scalar is a word of its own and the
            // GPT-2 expression runs on the stretches between them.
            var i = 0
            while i < n {
                if flags[i] & Self.N != 0 {
                    i += 1
                    ends.append(i)
                    continue
                }
                var stop = i
                while stop < n && flags[stop] & Self.N == 0 { stop += 1 }
                while i < stop {
                    i = Self.gpt2Word(scalars, flags, from: i, end: stop)
                    ends.append(i)
                }
            }
        case .qwen2, .llama3:
            let maxDigits = kind == .llama3 ? 3 : 1
            var i = 0
            while i < n {
                i = Self.llama3Word(scalars, flags, from: i, end: n, maxDigits: maxDigits)
                ends.append(i)
            }
        }
    }

    /// End of the maximal run starting at `i` of scalars whose flags intersect `mask`.
    @inline(__always)
    private static func run(_ f: UnsafeBufferPointer<UInt8>, _ i: Int, _ end: Int, _ mask: UInt8) -> Int {
        var j = i
        while j < end && f[j] & mask != 0 { j += 1 }
        return j
    }

    /// End of the maximal run of "other" scalars (`[^\s\p{L}\p{N}]`) starting at `i`.
    @inline(__always)
    private static func otherRun(_ f: UnsafeBufferPointer<UInt8>, _ i: Int, _ end: Int) -> Int {
        var j = i
        while j < end && f[j] & LNW == 0 { j += 1 }
        return j
    }

    /// `'s|'t|'re|'ve|'m|'ll|'d` at `i` (the apostrophe already checked); `fold` maps a scalar
    /// to the ASCII letter it matches (identity for the case-sensitive GPT-2 form).
    @inline(__always)
    private static func contractionEnd(_ s: UnsafeBufferPointer<UInt32>, _ i: Int, _ end: Int,
                                       _ fold: (UInt32) -> UInt32) -> Int? {
        guard i + 1 < end else { return nil }
        let c1 = fold(s[i + 1])
        switch c1 {
        case 0x73, 0x74, 0x6D, 0x64:  // s t m d
            return i + 2
        case 0x72, 0x76, 0x6C:  // r v l
            guard i + 2 < end else { return nil }
            let c2 = fold(s[i + 2])
            if (c1 == 0x72 && c2 == 0x65) || (c1 == 0x76 && c2 == 0x65) || (c1 == 0x6C && c2 == 0x6C) {
                return i + 3
            }
            return nil
        default:
            return nil
        }
    }

    /// Case-insensitive match under Unicode simple case folding, as `(?i:…)` does in Oniguruma
    /// and the Rust regex crate: ASCII letters fold to lower case and U+017F LATIN SMALL LETTER
    /// LONG S folds to 's'. (No other scalar folds to one of "strevmld".)
    @inline(__always)
    private static func foldCase(_ c: UInt32) -> UInt32 {
        if c >= 0x41 && c <= 0x5A { return c | 0x20 }
        if c == 0x17F { return 0x73 }
        return c
    }

    /// One word of `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
    private static func gpt2Word(_ s: UnsafeBufferPointer<UInt32>, _ f: UnsafeBufferPointer<UInt8>,
                                 from i: Int, end: Int) -> Int {
        if s[i] == 0x27, let e = contractionEnd(s, i, end, { $0 }) { return e }
        let fi = f[i]
        let spaceThen: UInt8 = (fi & SP != 0 && i + 1 < end) ? f[i + 1] : 0
        // ` ?\p{L}+` then ` ?\p{N}+`: the optional space is taken only if the class follows.
        if spaceThen & L != 0 { return run(f, i + 1, end, L) }
        if fi & L != 0 { return run(f, i, end, L) }
        if spaceThen & N != 0 { return run(f, i + 1, end, N) }
        if fi & N != 0 { return run(f, i, end, N) }
        // ` ?[^\s\p{L}\p{N}]+`
        if fi & SP != 0 && i + 1 < end && f[i + 1] & LNW == 0 { return otherRun(f, i + 1, end) }
        if fi & LNW == 0 { return otherRun(f, i, end) }
        return whitespaceWord(f, i, end, splitAtNewline: false)
    }

    /// One word of the Llama 3 / Qwen2 expression (`maxDigits` 3 or 1).
    private static func llama3Word(_ s: UnsafeBufferPointer<UInt32>, _ f: UnsafeBufferPointer<UInt8>,
                                   from i: Int, end: Int, maxDigits: Int) -> Int {
        if s[i] == 0x27, let e = contractionEnd(s, i, end, foldCase) { return e }
        let fi = f[i]
        // `[^\r\n\p{L}\p{N}]?\p{L}+`
        if fi & L != 0 { return run(f, i, end, L) }
        if fi & (NL | L | N) == 0 && i + 1 < end && f[i + 1] & L != 0 { return run(f, i + 1, end, L) }
        // `\p{N}{1,maxDigits}`
        if fi & N != 0 {
            var j = i + 1
            while j < end && j - i < maxDigits && f[j] & N != 0 { j += 1 }
            return j
        }
        // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
        if fi & SP != 0 && i + 1 < end && f[i + 1] & LNW == 0 {
            return run(f, otherRun(f, i + 1, end), end, NL)
        }
        if fi & LNW == 0 { return run(f, otherRun(f, i, end), end, NL) }
        return whitespaceWord(f, i, end, splitAtNewline: true)
    }

    /// The whitespace alternatives at a whitespace scalar `i`:
    /// `\s*[\r\n]+` (Llama 3 / Qwen2 only), then `\s+(?!\S)`, then `\s+`.
    @inline(__always)
    private static func whitespaceWord(_ f: UnsafeBufferPointer<UInt8>, _ i: Int, _ end: Int,
                                       splitAtNewline: Bool) -> Int {
        let j = run(f, i, end, W)
        if splitAtNewline {
            // `\s*` backtracks from the end of the run to its last newline; `[\r\n]+` then
            // takes that newline (the next scalar is not a newline, or it would be later).
            var k = j - 1
            while k >= i && f[k] & NL == 0 { k -= 1 }
            if k >= i { return k + 1 }
        }
        // `\s+(?!\S)`: the whole run at the end of the text, otherwise all but its last
        // scalar (so that scalar can prefix the next word); a lone scalar falls to `\s+`.
        if j == end { return j }
        if j - 1 > i { return j - 1 }
        return j
    }
}
