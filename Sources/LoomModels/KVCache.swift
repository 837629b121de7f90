/// Keys and values of every layer for up to `capacity` positions, as floats.
///
/// Layout per layer: `[position × kvHeads × headDim]`, so the K/V projections of a batch
/// are written straight into the cache rows of their positions. Memory is reserved up
/// front but only touched (and so only resident) as positions fill.
public final class KVCache {
    public let layers: Int
    public let capacity: Int
    /// Floats per position per layer (kvHeads × headDim).
    public let rowSize: Int
    private let keys: [UnsafeMutablePointer<Float>]
    private let values: [UnsafeMutablePointer<Float>]

    public init(layers: Int, capacity: Int, rowSize: Int) {
        self.layers = layers
        self.capacity = capacity
        self.rowSize = rowSize
        keys = (0..<layers).map { _ in .allocate(capacity: capacity * rowSize) }
        values = (0..<layers).map { _ in .allocate(capacity: capacity * rowSize) }
    }

    deinit {
        keys.forEach { $0.deallocate() }
        values.forEach { $0.deallocate() }
    }

    /// Start of layer `layer`'s keys (position 0).
    @inlinable public func keys(layer: Int) -> UnsafeMutablePointer<Float> { keyPointer(layer) }
    /// Start of layer `layer`'s values (position 0).
    @inlinable public func values(layer: Int) -> UnsafeMutablePointer<Float> { valuePointer(layer) }

    @usableFromInline func keyPointer(_ layer: Int) -> UnsafeMutablePointer<Float> { keys[layer] }
    @usableFromInline func valuePointer(_ layer: Int) -> UnsafeMutablePointer<Float> { values[layer] }

    /// Bytes reserved.
    public var byteCount: Int { 2 * layers * capacity * rowSize * MemoryLayout<Float>.size }
}
