import Foundation

/// The base model's log-probabilities for KL-divergence runs, in llama-perplexity's
/// `--kl-divergence-base` format so files are interchangeable with llama.cpp
/// (`tools/perplexity/perplexity.cpp`):
///
///     "_logits_" (8 bytes), i32 n_ctx, i32 n_vocab, i32 n_chunk, i32 tokens[n_chunk × n_ctx],
///     then for every scored position (n_ctx − 1 − n_ctx/2 per chunk) nv = 2⌈n_vocab/2⌉ + 4
///     uint16: two floats {scale, min_log_prob} followed by n_vocab uint16 q with
///     log p ≈ scale·q + min_log_prob.
///
/// Why this encoding: it keeps the full distribution (KLD needs every token, not a top-k)
/// at 2 bytes per entry, and clamps log p below max − 16 (probabilities < 1e-7 contribute
/// nothing measurable to KLD). All integers are little-endian.
public enum LogProbFile {
    static let magic = Array("_logits_".utf8)

    /// The header: context, vocabulary, chunk count and every chunk's tokens.
    public struct Header: Equatable, Sendable {
        public var contextLength: Int
        public var vocabularySize: Int
        public var chunkCount: Int
        public var tokens: [Int]

        /// uint16 values per scored position.
        public var recordLength: Int { 2 * ((vocabularySize + 1) / 2) + 4 }
        /// Scored positions per chunk.
        public var scoredPerChunk: Int { contextLength - 1 - contextLength / 2 }
    }

    /// Quantises the log-softmax of `logits` into `record` (`recordLength` uint16) and returns
    /// the negative log-likelihood of `token`, exactly as llama.cpp's `log_softmax` does.
    public static func encode(_ logits: UnsafeBufferPointer<Float>, token: Int, into record: UnsafeMutableBufferPointer<UInt16>) -> Double {
        var maxLogit = logits[0], minLogit = logits[0]
        for l in logits {
            maxLogit = max(maxLogit, l)
            minLogit = min(minLogit, l)
        }
        minLogit = max(minLogit, maxLogit - 16)
        let sum = LogSoftmax.sumExp(logits, maxLogit: maxLogit)
        let logSumExp = Float(log(sum))
        let minLogProb = minLogit - maxLogit - logSumExp
        let scale = (maxLogit - minLogit) / 65535
        withUnsafeBytes(of: scale.bitPattern.littleEndian) { b in
            record[0] = UInt16(b[0]) | UInt16(b[1]) << 8
            record[1] = UInt16(b[2]) | UInt16(b[3]) << 8
        }
        withUnsafeBytes(of: minLogProb.bitPattern.littleEndian) { b in
            record[2] = UInt16(b[0]) | UInt16(b[1]) << 8
            record[3] = UInt16(b[2]) | UInt16(b[3]) << 8
        }
        let inverse = scale != 0 ? 1 / scale : 0
        for i in 0..<logits.count {
            let q: UInt16 = scale != 0 && logits[i] > minLogit
                ? UInt16(clamping: Int((inverse * (logits[i] - minLogit)).rounded(.toNearestOrEven)))
                : 0
            record[4 + i] = q.littleEndian
        }
        for i in (4 + logits.count)..<record.count { record[i] = 0 }
        return Double(maxLogit) + Double(logSumExp) - Double(logits[token])
    }

    /// The scale and minimum log-probability stored at the front of a record.
    public static func parameters(_ record: UnsafeBufferPointer<UInt16>) -> (scale: Float, minLogProb: Float) {
        let s = UInt32(UInt16(littleEndian: record[0])) | UInt32(UInt16(littleEndian: record[1])) << 16
        let m = UInt32(UInt16(littleEndian: record[2])) | UInt32(UInt16(littleEndian: record[3])) << 16
        return (Float(bitPattern: s), Float(bitPattern: m))
    }
}

/// Writes a ``LogProbFile`` chunk by chunk.
public final class LogProbFileWriter {
    public let path: String
    public let header: LogProbFile.Header
    private let handle: FileHandle

    public init(path: String, header: LogProbFile.Header) throws {
        self.path = path
        self.header = header
        guard FileManager.default.createFile(atPath: path, contents: nil),
              let handle = FileHandle(forWritingAtPath: path) else {
            throw EvalError.logProbFile(path: path, reason: "cannot create the file")
        }
        self.handle = handle
        var data = Data(LogProbFile.magic)
        for v in [header.contextLength, header.vocabularySize, header.chunkCount] + header.tokens {
            withUnsafeBytes(of: Int32(truncatingIfNeeded: v).littleEndian) { data.append(contentsOf: $0) }
        }
        try write(data)
    }

    /// Appends one chunk's records (`scoredPerChunk × recordLength` uint16).
    public func append(_ records: [UInt16]) throws {
        try write(records.withUnsafeBytes { Data($0) })
    }

    public func close() throws {
        do { try handle.close() } catch {
            throw EvalError.logProbFile(path: path, reason: "close failed: \(error)")
        }
    }

    private func write(_ data: Data) throws {
        do { try handle.write(contentsOf: data) } catch {
            throw EvalError.logProbFile(path: path, reason: "write failed: \(error)")
        }
    }
}

/// Reads a ``LogProbFile`` chunk by chunk, checking its header and size.
public final class LogProbFileReader {
    public let path: String
    public let header: LogProbFile.Header
    private let handle: FileHandle
    private var nextChunk = 0

    public init(path: String) throws {
        self.path = path
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw EvalError.logProbFile(path: path, reason: "cannot open the file")
        }
        self.handle = handle
        let head = handle.readData(ofLength: 20)
        guard head.count == 20, Array(head.prefix(8)) == LogProbFile.magic else {
            throw EvalError.logProbFile(path: path, reason: "not a KL-divergence base file (missing \"_logits_\" magic at offset 0)")
        }
        func int32(_ data: Data, _ offset: Int) -> Int {
            Int(Int32(littleEndian: data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: Int32.self) }))
        }
        let ctx = int32(head, 8), vocab = int32(head, 12), chunks = int32(head, 16)
        guard ctx >= 4, vocab > 0, chunks > 0, ctx <= 1 << 24, vocab <= 1 << 24, chunks <= 1 << 20 else {
            throw EvalError.logProbFile(path: path, reason: "bad header at offset 8: n_ctx \(ctx), n_vocab \(vocab), n_chunk \(chunks)")
        }
        let tokenData = handle.readData(ofLength: 4 * ctx * chunks)
        guard tokenData.count == 4 * ctx * chunks else {
            throw EvalError.logProbFile(path: path, reason: "truncated token list at offset 20")
        }
        let tokens = (0..<(ctx * chunks)).map { int32(tokenData, 4 * $0) }
        if let bad = tokens.firstIndex(where: { $0 < 0 || $0 >= vocab }) {
            throw EvalError.logProbFile(path: path, reason: "token \(tokens[bad]) at offset \(20 + 4 * bad) is outside the vocabulary of \(vocab)")
        }
        header = LogProbFile.Header(contextLength: ctx, vocabularySize: vocab, chunkCount: chunks, tokens: tokens)
        let expected = UInt64(20 + 4 * ctx * chunks) + UInt64(chunks * header.scoredPerChunk * header.recordLength * 2)
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.uint64Value ?? 0
        guard size == expected else {
            throw EvalError.logProbFile(path: path, reason: "size \(size) bytes, expected \(expected) for \(chunks) chunks of \(ctx) tokens and \(vocab) vocabulary entries")
        }
    }

    /// The next chunk's records.
    public func readChunk() throws -> [UInt16] {
        let count = header.scoredPerChunk * header.recordLength
        let data = handle.readData(ofLength: 2 * count)
        guard data.count == 2 * count else {
            throw EvalError.logProbFile(path: path, reason: "truncated at chunk \(nextChunk)")
        }
        nextChunk += 1
        return data.withUnsafeBytes { raw in Array(raw.bindMemory(to: UInt16.self)) }
    }
}
