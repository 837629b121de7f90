import Foundation
#if canImport(Glibc)
import Glibc
#endif

// A session's evaluated state on disk: llama.cpp's `--prompt-cache` (`llama_state_save_file`),
// so a long document is processed once and then questioned many times.
//
// Layout (little-endian):
//   bytes 0..<8    "LOOMKV", 0, 1 (magic and format version 1)
//   bytes 8..<16   UInt64 H, the header's length
//   H bytes        header JSON: {"tokens", "layers", "rowSize", "keyRowBytes", "valueRowBytes",
//                  "ropeLength", "fingerprint": {field: value}}
//   4·tokens       the evaluated token ids, Int32
//   per layer      the tokens' key rows, then their value rows, as the cache stores them
//                  (its KV cache types' bytes, as llama.cpp's state files hold them)

extension InferenceSession {
    static let stateMagic: [UInt8] = Array("LOOMKV".utf8) + [0, 1]

    /// What a saved state must share with the session that loads it, as `field → value`, so
    /// a mismatch names the field: the model (shape, configuration including RoPE, a hash of
    /// some weights), the attached LoRA adapters and the KV cache types.
    public var stateFingerprint: [String: String] {
        let m = model.config
        var configuration = FNV1a()
        configuration.add(String(describing: m))
        var weights = FNV1a()
        var row = [Float](repeating: 0, count: m.embeddingSize)
        for token in Set([0, m.vocabularySize / 2, m.vocabularySize - 1]).sorted() {
            row.withUnsafeMutableBufferPointer { model.weights.tokenEmbedding.dequantizeRow(token, into: $0.baseAddress!) }
            for value in row { weights.add(UInt64(value.bitPattern)) }
        }
        for value in model.weights.outputNorm { weights.add(UInt64(value.bitPattern)) }
        let adapters = model.loraAdapters.map { "\($0.path) × \($0.scale)" }
        return [
            "model shape": "\(m.architecture.name), \(m.layerCount) layers, \(m.embeddingSize) wide, "
                + "\(m.headCount)/\(m.kvHeadCount) heads of \(m.headDim), vocabulary \(m.vocabularySize)",
            "model configuration (RoPE, norms, …)": configuration.hex,
            "model weights": weights.hex,
            "LoRA adapters": adapters.isEmpty ? "none" : adapters.joined(separator: ", "),
            "KV cache types": "\(cache.types)",
        ]
    }

    /// Writes the first `tokens.count` evaluated positions (whose ids are `tokens`) and
    /// their keys and values to `url`, atomically (a temporary file renamed over it).
    public func saveState(tokens: [Int], to url: URL) throws {
        precondition(tokens.count <= position, "saveState: \(tokens.count) tokens but \(position) evaluated")
        let header: [String: Any] = [
            "tokens": tokens.count, "layers": cache.layers, "rowSize": cache.rowSize,
            "keyRowBytes": cache.keyRowBytes, "valueRowBytes": cache.valueRowBytes,
            "ropeLength": cache.ropeLength, "fingerprint": stateFingerprint,
        ]
        let json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        let temporary = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).\(ProcessInfo.processInfo.processIdentifier).tmp")
        guard FileManager.default.createFile(atPath: temporary.path, contents: nil) else {
            throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: temporary.path])
        }
        do {
            let handle = try FileHandle(forWritingTo: temporary)
            defer { try? handle.close() }
            var prefix = Data(Self.stateMagic)
            withUnsafeBytes(of: UInt64(json.count).littleEndian) { prefix.append(contentsOf: $0) }
            try handle.write(contentsOf: prefix + json)
            try handle.write(contentsOf: tokens.withUnsafeBufferPointer { ids in
                Data(ids.map { Int32(truncatingIfNeeded: $0).littleEndian }.withUnsafeBytes { Array($0) })
            })
            let n = tokens.count
            for layer in 0..<cache.layers {
                try handle.write(contentsOf: Data(bytesNoCopy: cache.keyStart(layer), count: n * cache.keyRowBytes, deallocator: .none))
                try handle.write(contentsOf: Data(bytesNoCopy: cache.valueStart(layer), count: n * cache.valueRowBytes, deallocator: .none))
            }
            try handle.synchronize()
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
        guard rename(temporary.path, url.path) == 0 else {
            let code = errno
            try? FileManager.default.removeItem(at: temporary)
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: url.path,
                                                           NSLocalizedDescriptionKey: String(cString: strerror(code))])
        }
    }

    /// Replaces the session's state with the one saved at `url` and returns its token ids
    /// (the session's ``position`` becomes their count).
    ///
    /// Everything is checked before the cache is touched: the header, the file's length and
    /// the fingerprint (``stateFingerprint``); a failure leaves the session as it was.
    /// - Throws: ``SessionStateError`` naming the problem, or the file system's error.
    @discardableResult
    public func loadState(from url: URL) throws -> [Int] {
        let path = url.path
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        let fileBytes = Int(try handle.seekToEnd())
        try handle.seek(toOffset: 0)
        let prefix = try handle.read(upToCount: 16) ?? Data()
        guard prefix.count == 16, Array(prefix.prefix(8)) == Self.stateMagic else {
            throw SessionStateError.notAStateFile(path: path, reason: "no LOOMKV version 1 header")
        }
        let headerLength = prefix.suffix(8).withUnsafeBytes { Int(UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) }
        guard headerLength > 0, headerLength <= min(1 << 20, fileBytes - 16) else {
            throw SessionStateError.notAStateFile(path: path, reason: "header length \(headerLength) does not fit the file")
        }
        let json = try handle.read(upToCount: headerLength) ?? Data()
        guard let header = try? JSONSerialization.jsonObject(with: json) as? [String: Any],
              let tokens = header["tokens"] as? Int, let layers = header["layers"] as? Int,
              let rowSize = header["rowSize"] as? Int, let keyRowBytes = header["keyRowBytes"] as? Int,
              let valueRowBytes = header["valueRowBytes"] as? Int, let ropeLength = header["ropeLength"] as? Int,
              let fingerprint = header["fingerprint"] as? [String: String], tokens >= 0
        else {
            throw SessionStateError.notAStateFile(path: path, reason: "malformed header")
        }
        // The fingerprint first: it says which setting differs, where the row sizes would
        // only say that they do.
        for (field, current) in stateFingerprint.sorted(by: { $0.key < $1.key }) where fingerprint[field] != current {
            throw SessionStateError.mismatch(path: path, field: field, saved: fingerprint[field] ?? "nothing", current: current)
        }
        guard layers == cache.layers, rowSize == cache.rowSize, keyRowBytes == cache.keyRowBytes,
              valueRowBytes == cache.valueRowBytes else {
            throw SessionStateError.mismatch(path: path, field: "cache layout",
                                             saved: "\(layers) layers of \(rowSize) (\(keyRowBytes)+\(valueRowBytes) bytes)",
                                             current: "\(cache.layers) layers of \(cache.rowSize) (\(cache.keyRowBytes)+\(cache.valueRowBytes) bytes)")
        }
        guard tokens <= capacity else { throw SessionStateError.tooLong(path: path, tokens: tokens, capacity: capacity) }
        let expected = 16 + headerLength + 4 * tokens + layers * tokens * (keyRowBytes + valueRowBytes)
        guard fileBytes >= expected else {
            throw SessionStateError.truncated(path: path, expectedBytes: expected, actualBytes: fileBytes)
        }
        guard fileBytes == expected else {
            throw SessionStateError.notAStateFile(path: path, reason: "\(fileBytes - expected) bytes after the last layer")
        }
        let idBytes = try handle.read(upToCount: 4 * tokens) ?? Data()
        let ids = idBytes.withUnsafeBytes { raw in
            (0..<tokens).map { Int(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self))) }
        }
        if let bad = ids.first(where: { $0 < 0 || $0 >= model.config.vocabularySize }) {
            throw SessionStateError.notAStateFile(path: path, reason: "token id \(bad) outside the vocabulary")
        }
        // From here on the cache is overwritten: a failed read leaves an empty session.
        position = 0
        cache.reserve(positions: tokens)
        for layer in 0..<layers {
            try read(handle, count: tokens * keyRowBytes, into: cache.keyStart(layer), path: path, expected: expected)
            try read(handle, count: tokens * valueRowBytes, into: cache.valueStart(layer), path: path, expected: expected)
        }
        cache.ropeLength = ropeLength
        position = tokens
        return ids
    }

    private func read(_ handle: FileHandle, count: Int, into destination: UnsafeMutableRawPointer, path: String, expected: Int) throws {
        var done = 0
        while done < count {
            guard let chunk = try handle.read(upToCount: min(count - done, 1 << 24)), !chunk.isEmpty else {
                throw SessionStateError.truncated(path: path, expectedBytes: expected, actualBytes: expected - (count - done))
            }
            chunk.withUnsafeBytes { (destination + done).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            done += chunk.count
        }
    }
}
