import Foundation  // NFC normalisation (precomposedStringWithCanonicalMapping)

/// Scratch state for one `encode` call: pre-tokenizes text fragments (special tokens already
/// removed) and BPE-merges each word. Buffers are reused across words so the hot loop does
/// not allocate.
struct EncodeSession {
    private let tok: BPETokenizer
    private var scalars: [UInt32] = []
    private var flags: [UInt8] = []
    /// UTF-8 offset of each scalar, plus the fragment length at the end.
    private var starts: [Int] = []
    private var ends: [Int] = []
    private var syms: [Int32] = []
    private var mapped: [UInt8] = []
    private var merger = BPEMerge()

    init(tokenizer: BPETokenizer) {
        tok = tokenizer
    }

    /// Appends the tokens of one fragment of text (valid UTF-8 without special tokens).
    mutating func encodeFragment(_ bytes: UnsafeBufferPointer<UInt8>, into out: inout [Int]) {
        // Only scalars from U+0300 up (lead byte 0xCC or more) can be changed by NFC.
        if tok.normalizesNFC && bytes.contains(where: { $0 >= 0xCC }) {
            let normalized = String(decoding: bytes, as: UTF8.self).precomposedStringWithCanonicalMapping
            var utf8 = Array(normalized.utf8)
            utf8.withUnsafeMutableBufferPointer { encodeNormalized(UnsafeBufferPointer($0), into: &out) }
        } else {
            encodeNormalized(bytes, into: &out)
        }
    }

    private mutating func encodeNormalized(_ bytes: UnsafeBufferPointer<UInt8>, into out: inout [Int]) {
        decodeScalars(bytes)
        ends.removeAll(keepingCapacity: true)
        scalars.withUnsafeBufferPointer { s in
            flags.withUnsafeBufferPointer { f in
                tok.scanner.split(scalars: s, flags: f, into: &ends)
            }
        }
        var wordStart = 0
        for e in ends {
            let a = starts[wordStart], b = starts[e]
            encodeWord(UnsafeBufferPointer(rebasing: bytes[a ..< b]), into: &out)
            wordStart = e
        }
    }

    /// Fills `scalars`, `flags` and `starts` from valid UTF-8.
    private mutating func decodeScalars(_ p: UnsafeBufferPointer<UInt8>) {
        scalars.removeAll(keepingCapacity: true)
        flags.removeAll(keepingCapacity: true)
        starts.removeAll(keepingCapacity: true)
        let n = p.count
        var i = 0
        while i < n {
            let b0 = p[i]
            var v: UInt32
            var len: Int
            if b0 < 0x80 {
                v = UInt32(b0); len = 1
            } else if b0 < 0xE0 {
                v = UInt32(b0 & 0x1F); len = 2
            } else if b0 < 0xF0 {
                v = UInt32(b0 & 0x0F); len = 3
            } else {
                v = UInt32(b0 & 0x07); len = 4
            }
            // The input comes from a Swift String, so it is valid UTF-8; the clamp only keeps
            // a broken invariant from reading out of bounds.
            if i + len > n { len = n - i; v = 0xFFFD }
            var k = 1
            while k < len {
                v = v << 6 | UInt32(p[i + k] & 0x3F)
                k += 1
            }
            scalars.append(v)
            flags.append(ScalarClass.flags(v))
            starts.append(i)
            i += len
        }
        starts.append(n)
    }

    /// BPE-encodes one pre-tokenized word.
    private mutating func encodeWord(_ word: UnsafeBufferPointer<UInt8>, into out: inout [Int]) {
        let count = word.count
        if count == 0 { return }
        if tok.ignoresMerges && count > 1 {
            mapped.removeAll(keepingCapacity: true)
            for b in word {
                let (u0, u1, len) = ByteLevel.utf8ForByte[Int(b)]
                mapped.append(u0)
                if len == 2 { mapped.append(u1) }
            }
            if let id = mapped.withUnsafeBufferPointer({ tok.symbols.find($0) }), id < tok.vocabularySize {
                out.append(id)
                return
            }
        }
        if syms.count < count { syms = [Int32](repeating: 0, count: Swift.max(count, 64)) }
        for i in 0 ..< count { syms[i] = tok.byteSymbol[Int(word[i])] }
        let n = merger.merge(&syms, count: count, pairs: tok.pairs)
        for i in 0 ..< n { emit(syms[i], into: &out) }
    }

    /// Appends a final symbol: its id if it is a vocabulary entry, otherwise one token per byte.
    /// A byte whose one-scalar piece the vocabulary lacks (SmolLM2 has none for 0x04, for
    /// example) is dropped, as both llama.cpp and HF tokenizers do; emitting the unknown token
    /// instead would put e.g. SmolLM2's `<|endoftext|>` into the prompt.
    @inline(__always)
    private func emit(_ symbol: Int32, into out: inout [Int]) {
        if Int(symbol) < tok.vocabularySize {
            out.append(Int(symbol))
            return
        }
        let text = String(decoding: tok.symbols.key(Int(symbol)), as: UTF8.self)
        for scalar in text.unicodeScalars {
            guard let b = ByteLevel.byte(for: scalar.value) else { continue }
            let s = Int(tok.byteSymbol[Int(b)])
            if s < tok.vocabularySize { out.append(s) }
        }
    }
}
