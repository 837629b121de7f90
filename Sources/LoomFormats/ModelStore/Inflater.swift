#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A raw DEFLATE (RFC 1951) decoder, streaming its output in chunks.
///
/// Wheels store model files deflated, and Loom may not link zlib (no new packages), so this
/// is a self-contained decoder: two-level Huffman lookup tables, a 64-bit bit buffer refilled
/// eight bytes at a time, and a sliding output buffer that keeps the 32 KiB window and hands
/// everything older to the sink. Input is treated as hostile: every table, length, distance
/// and bit read is checked, so a corrupt stream is a thrown `Inflater.Failure`, never a crash,
/// a hang or an unbounded allocation.
///
/// ```swift
/// try compressed.withUnsafeBytes { raw in
///     try Inflater.inflate(raw, outputLimit: expectedSize) { chunk in write(chunk) }
/// }
/// ```
struct Inflater {
    /// Why a stream could not be decoded, with the input byte offset where it was noticed.
    struct Failure: Error, CustomStringConvertible {
        let reason: String
        let offset: Int
        var description: String { "\(reason) (at compressed byte \(offset))" }
    }

    /// Decodes the complete raw deflate stream in `input` and passes the output to `sink` in
    /// order, in chunks of about 1 MiB. Fails if the output would exceed `outputLimit` bytes
    /// (callers know the declared size; this bounds the work a hostile stream can cause).
    /// Returns the number of output bytes.
    @discardableResult
    static func inflate(
        _ input: UnsafeRawBufferPointer, outputLimit: Int,
        sink: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> Int {
        var state = Inflater(input: input, outputLimit: outputLimit)
        defer { state.out.deallocate() }
        try state.run(sink: sink)
        return state.emitted
    }

    // MARK: - State

    private static let window = 32 * 1024
    private static let chunk = 1 << 20
    /// Flush when the write position passes this; one symbol writes at most 258 bytes, and the
    /// 8-byte copies may run up to 7 bytes further, hence the buffer's slack.
    private static let flushLimit = window + chunk
    private static let capacity = flushLimit + 258 + 16

    private let inBase: UnsafePointer<UInt8>
    private let inEnd: Int
    private var inPos = 0
    private var bitBuf: UInt64 = 0
    private var bitCount = 0
    private let out: UnsafeMutablePointer<UInt8>
    private var outPos = 0
    private var outStart = 0
    private var emitted = 0
    private let outputLimit: Int
    /// Huffman tables, reused across blocks to avoid reallocating per block.
    private var litTable = HuffmanTable()
    private var distTable = HuffmanTable()

    private init(input: UnsafeRawBufferPointer, outputLimit: Int) {
        // An empty buffer may have no base address; a 1-byte dummy keeps pointers valid.
        inBase = input.baseAddress.map { $0.assumingMemoryBound(to: UInt8.self) } ?? Inflater.emptyInput
        inEnd = input.count
        self.outputLimit = outputLimit
        out = UnsafeMutablePointer<UInt8>.allocate(capacity: Inflater.capacity)
    }

    private static let emptyInput: UnsafePointer<UInt8> = {
        let p = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)
        p.initialize(to: 0)
        return UnsafePointer(p)
    }()

    private func fail(_ reason: String) -> Failure {
        Failure(reason: reason, offset: max(0, inPos - bitCount / 8))
    }

    // MARK: - Bits

    /// Tops the bit buffer up to at least 56 bits when 8 input bytes remain (one unaligned
    /// load), else byte by byte. Bits above `bitCount` may hold copies of the next input
    /// bits; OR-ing the same bits again later is harmless.
    @inline(__always) private mutating func refill() {
        if inEnd - inPos >= 8 {
            let word = UInt64(littleEndian: UnsafeRawPointer(inBase + inPos).loadUnaligned(as: UInt64.self))
            bitBuf |= word << UInt64(bitCount)
            inPos += (63 - bitCount) >> 3
            bitCount |= 56
        } else {
            while bitCount <= 56 && inPos < inEnd {
                bitBuf |= UInt64(inBase[inPos]) << UInt64(bitCount)
                inPos += 1
                bitCount += 8
            }
        }
    }

    /// Takes `n` (≤ 32) bits, least significant first.
    @inline(__always) private mutating func bits(_ n: Int) throws -> Int {
        if bitCount < n {
            refill()
            if bitCount < n { throw fail("deflate stream is truncated") }
        }
        let v = Int(truncatingIfNeeded: bitBuf & ((1 << UInt64(n)) &- 1))
        bitBuf >>= UInt64(n)
        bitCount -= n
        return v
    }

    /// Decodes one symbol with `table`.
    @inline(__always) private mutating func decode(_ table: UnsafePointer<UInt32>, primaryBits: Int) throws -> Int {
        if bitCount < 15 { refill() }
        var e = table[Int(truncatingIfNeeded: bitBuf) & ((1 << primaryBits) - 1)]
        if e & HuffmanTable.kindMask != 0 {
            if e & HuffmanTable.kindMask == HuffmanTable.subtableKind {
                let sub = Int(e & 0xFF)
                let index = Int(truncatingIfNeeded: bitBuf >> UInt64(primaryBits)) & ((1 << sub) - 1)
                e = table[Int(e >> 16) + index]
            }
            if e & HuffmanTable.kindMask != 0 { throw fail("invalid Huffman code") }
        }
        let len = Int(e & 0xFF)
        if len > bitCount { throw fail("deflate stream is truncated") }
        bitBuf >>= UInt64(len)
        bitCount -= len
        return Int(e >> 16)
    }

    // MARK: - Output

    /// Emits pending output and slides the last 32 KiB (the back-reference window) to the front.
    private mutating func flush(sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        let pending = outPos - outStart
        if pending > 0 {
            if pending > outputLimit - emitted {
                throw fail("stream inflates to more than the declared \(outputLimit) bytes")
            }
            try sink(UnsafeRawBufferPointer(start: out + outStart, count: pending))
            emitted += pending
        }
        let keep = min(outPos, Inflater.window)
        if keep > 0 && outPos > keep {
            memmove(out, out + (outPos - keep), keep)
        }
        outPos = keep
        outStart = keep
    }

    // MARK: - Blocks

    private mutating func run(sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        var final = false
        while !final {
            final = try bits(1) == 1
            switch try bits(2) {
            case 0:
                try storedBlock(sink: sink)
            case 1:
                try litTable.build(lengths: Inflater.fixedLitLengths, primaryBits: 10, kind: .literalLength)
                try distTable.build(lengths: Inflater.fixedDistLengths, primaryBits: 8, kind: .distance)
                try huffmanBlock(sink: sink)
            case 2:
                try readDynamicTables()
                try huffmanBlock(sink: sink)
            default:
                throw fail("invalid deflate block type 3")
            }
        }
        try flush(sink: sink)
    }

    private mutating func storedBlock(sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        // Stored data starts on a byte boundary: drop the partial byte, then give the whole
        // bytes still in the bit buffer back to the input so they can be copied directly.
        let drop = bitCount & 7
        bitBuf >>= UInt64(drop)
        bitCount -= drop
        inPos -= bitCount >> 3
        bitBuf = 0
        bitCount = 0
        guard inEnd - inPos >= 4 else { throw fail("deflate stream is truncated in a stored block header") }
        let len = Int(inBase[inPos]) | Int(inBase[inPos + 1]) << 8
        let nlen = Int(inBase[inPos + 2]) | Int(inBase[inPos + 3]) << 8
        inPos += 4
        guard len == (~nlen & 0xFFFF) else { throw fail("stored block length \(len) does not match its complement") }
        guard inEnd - inPos >= len else { throw fail("deflate stream is truncated inside a stored block") }
        var remaining = len
        while remaining > 0 {
            if outPos > Inflater.flushLimit { try flush(sink: sink) }
            let n = min(remaining, Inflater.capacity - 16 - outPos)
            (out + outPos).update(from: inBase + inPos, count: n)
            outPos += n
            inPos += n
            remaining -= n
        }
    }

    private mutating func readDynamicTables() throws {
        let nlit = try bits(5) + 257
        let ndist = try bits(5) + 1
        let ncode = try bits(4) + 4
        guard nlit <= 286 else { throw fail("dynamic block declares \(nlit) literal/length codes (max 286)") }
        guard ndist <= 30 else { throw fail("dynamic block declares \(ndist) distance codes (max 30)") }
        var codeLengths = [UInt8](repeating: 0, count: 19)
        for i in 0..<ncode {
            codeLengths[Inflater.codeLengthOrder[i]] = UInt8(try bits(3))
        }
        var lengthTable = HuffmanTable()
        try lengthTable.build(lengths: codeLengths, primaryBits: 7, kind: .codeLength)
        var lengths = [UInt8](repeating: 0, count: nlit + ndist)
        var i = 0
        try lengthTable.entries.withUnsafeBufferPointer { tp in
            let table = tp.baseAddress!
            while i < lengths.count {
                let sym = try decode(table, primaryBits: 7)
                if sym < 16 {
                    lengths[i] = UInt8(sym)
                    i += 1
                    continue
                }
                let value: UInt8
                let repeatCount: Int
                switch sym {
                case 16:
                    guard i > 0 else { throw fail("code length repeat with no previous length") }
                    value = lengths[i - 1]
                    repeatCount = 3 + (try bits(2))
                case 17:
                    value = 0
                    repeatCount = 3 + (try bits(3))
                default:
                    value = 0
                    repeatCount = 11 + (try bits(7))
                }
                guard repeatCount <= lengths.count - i else { throw fail("code length repeat runs past the end of the code lengths") }
                for j in 0..<repeatCount { lengths[i + j] = value }
                i += repeatCount
            }
        }
        guard lengths[256] != 0 else { throw fail("dynamic block has no end-of-block code") }
        try litTable.build(lengths: Array(lengths[0..<nlit]), primaryBits: 10, kind: .literalLength)
        try distTable.build(lengths: Array(lengths[nlit...]), primaryBits: 8, kind: .distance)
    }

    /// Decodes literal/length and distance symbols until the end-of-block code.
    private mutating func huffmanBlock(sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        let litEntries = litTable.entries
        let distEntries = distTable.entries
        try litEntries.withUnsafeBufferPointer { lp in
            try distEntries.withUnsafeBufferPointer { dp in
                let lit = lp.baseAddress!, dist = dp.baseAddress!
                while true {
                    if outPos > Inflater.flushLimit { try flush(sink: sink) }
                    let sym = try decode(lit, primaryBits: 10)
                    if sym < 256 {
                        out[outPos] = UInt8(truncatingIfNeeded: sym)
                        outPos += 1
                        continue
                    }
                    if sym == 256 { return }
                    let li = sym - 257
                    guard li < 29 else { throw fail("invalid length symbol \(sym)") }
                    let length = Inflater.lengthBase[li] + (try bits(Inflater.lengthExtra[li]))
                    let dsym = try decode(dist, primaryBits: 8)
                    guard dsym < 30 else { throw fail("invalid distance symbol \(dsym)") }
                    let distance = Inflater.distBase[dsym] + (try bits(Inflater.distExtra[dsym]))
                    guard distance <= outPos else {
                        throw fail("back-reference distance \(distance) reaches before the start of the output")
                    }
                    copyMatch(length: length, distance: distance)
                }
            }
        }
    }

    /// Appends `length` bytes copied from `distance` bytes back (the regions may overlap).
    @inline(__always) private mutating func copyMatch(length: Int, distance: Int) {
        let dst = out + outPos
        let src = UnsafePointer(dst - distance)
        if distance >= 8 {
            // Each 8-byte step reads bytes written at least 8 bytes earlier, so overlapping
            // copies stay correct; the tail may write up to 7 bytes of slack past the match.
            var i = 0
            while i < length {
                UnsafeMutableRawPointer(dst + i).storeBytes(
                    of: UnsafeRawPointer(src + i).loadUnaligned(as: UInt64.self), as: UInt64.self)
                i += 8
            }
        } else if distance == 1 {
            dst.update(repeating: src[0], count: length)
        } else {
            for i in 0..<length { dst[i] = src[i] }
        }
        outPos += length
    }

    // MARK: - Constants (RFC 1951 section 3.2.5)

    private static let lengthBase: [Int] = [
        3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
        35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258,
    ]
    private static let lengthExtra: [Int] = [
        0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
    ]
    private static let distBase: [Int] = [
        1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193,
        257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
    ]
    private static let distExtra: [Int] = [
        0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13,
    ]
    private static let codeLengthOrder: [Int] = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]
    private static let fixedLitLengths: [UInt8] =
        [UInt8](repeating: 8, count: 144) + [UInt8](repeating: 9, count: 112)
        + [UInt8](repeating: 7, count: 24) + [UInt8](repeating: 8, count: 8)
    /// 32 codes, as RFC 1951 specifies, so the code is complete; symbols 30 and 31 decode but
    /// are rejected as distances.
    private static let fixedDistLengths = [UInt8](repeating: 5, count: 32)
}
