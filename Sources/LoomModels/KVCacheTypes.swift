import LoomKernels

/// The storage types of a KV cache's keys and values (llama.cpp's `-ctk` / `-ctv`).
///
/// f16 for both is the default, as in llama.cpp: half the bytes of f32 and, on the test
/// models, log-probabilities within 0.01 of an f32 cache (`KVCacheTypeTests`). q8_0 halves
/// them again. Sessions of a model use ``LanguageModel/cacheTypes`` unless given others.
public struct KVCacheTypes: Sendable, Equatable, CustomStringConvertible {
    public var keys: KVCacheType
    public var values: KVCacheType

    public init(keys: KVCacheType, values: KVCacheType) {
        self.keys = keys
        self.values = values
    }

    /// Both keys and values as `type`.
    public init(_ type: KVCacheType) { self.init(keys: type, values: type) }

    /// f16 keys and values (llama.cpp's default).
    public static let `default` = KVCacheTypes(.f16)
    /// f32 keys and values: the forward pass's own arithmetic, no rounding in the cache.
    public static let f32 = KVCacheTypes(.f32)

    /// Bytes of keys plus values per position per layer for rows of `rowSize` elements.
    public func bytesPerPosition(rowSize: Int) -> Int {
        keys.rowBytes(elements: rowSize) + values.rowBytes(elements: rowSize)
    }

    /// Throws unless both types hold heads of `headDim` elements as whole blocks.
    public func check(headDim: Int, path: String) throws {
        for (name, type) in [("keys", keys), ("values", values)] where !type.supports(headDim: headDim) {
            throw ModelError.invalidMetadata(
                key: "KV cache type", reason: "\(type) \(name) need heads of a multiple of \(type.ggmlType.blockSize) "
                    + "elements, and this model's heads have \(headDim); use f16, bf16 or f32", path: path)
        }
    }

    public var description: String { keys == values ? keys.rawValue : "K \(keys), V \(values)" }
}
