import Foundation

/// What an evaluation state of a model will hold besides the mapped weights, computed before
/// anything is allocated (`loom info --ctx N --parallel P`): the KV cache of every slot and
/// the decoder's scratch for its largest batch. Weights are mapped from the file, so they
/// count against the page cache rather than as allocations; ``weightBytes`` is reported
/// alongside for the total.
public struct MemoryEstimate: Sendable, Equatable {
    /// Positions per slot and slots.
    public let contextLength: Int
    public let slots: Int
    /// Tensor bytes as stored (mapped, read-only).
    public let weightBytes: Int
    /// Keys and values of every layer, position and slot (``KVCache``), stored as ``cacheTypes``.
    public let kvCacheBytes: Int
    /// The KV cache's storage types.
    public let cacheTypes: KVCacheTypes
    /// ``DecoderForward``'s activation buffers for `batchRows` rows plus its logits block.
    public let scratchBytes: Int
    /// The machine's physical memory.
    public let availableBytes: Int

    public var totalBytes: Int { weightBytes + kvCacheBytes + scratchBytes }
    /// Whether the KV cache and scratch fit in physical memory (what ``LanguageModel/makeSession(contextLength:pool:options:)``
    /// and the server check before allocating).
    public var fits: Bool { kvCacheBytes + scratchBytes <= availableBytes }
}

extension LanguageModel {
    /// The memory a session (one slot) or a server (`slots` slots) of `contextLength` positions
    /// would hold, with batches of up to `batchRows` rows (``InferenceSession/maxBatch`` by
    /// default, capped at the context), given `weightBytes` of stored tensors.
    /// - Throws: ``ModelError/insufficientMemory(what:requested:available:)`` when the byte
    ///   count overflows (an implausible context).
    /// `cacheTypes` defaults to the model's (``cacheTypes``).
    public func memoryEstimate(contextLength: Int, slots: Int = 1, batchRows: Int? = nil, weightBytes: Int,
                               cacheTypes: KVCacheTypes? = nil) throws -> MemoryEstimate {
        let c = config
        let types = cacheTypes ?? self.cacheTypes
        guard let kv = MemoryPlan.kvCacheBytes(layers: c.layerCount, positions: contextLength, rowSize: c.kvHeadCount * c.headDim,
                                               types: types, slots: slots) else {
            throw ModelError.insufficientMemory(what: "the KV caches of \(slots) × \(contextLength) positions", requested: nil,
                                                available: MemoryPlan.physicalMemory)
        }
        let rows = batchRows ?? min(InferenceSession.maxBatch, contextLength)
        let qDim = c.headCount * c.headDim, kvDim = c.kvHeadCount * c.headDim
        // DecoderForward's buffers: hidden, normed, blockOutput (d each); queries, attended
        // (qDim); newKeys, newValues (kvDim); ffnGate, ffnUp (ffn); the RoPE table; then the
        // logits block and its normed input.
        let perRow = 3 * c.embeddingSize + 2 * qDim + 2 * kvDim + 2 * c.feedForwardSize + c.ropeDimensions
        let floats = rows * perRow + DecoderForward.logitRows * (c.vocabularySize + c.embeddingSize)
        return MemoryEstimate(contextLength: contextLength, slots: slots, weightBytes: weightBytes, kvCacheBytes: kv, cacheTypes: types,
                              scratchBytes: floats * MemoryLayout<Float>.stride, availableBytes: MemoryPlan.physicalMemory)
    }
}
