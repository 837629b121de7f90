import LoomKernels

/// One linear projection of the decoder — q, k, v, o, gate, up, down or the LM head — as the
/// forward pass sees it: the stored weight (any block format), an optional bias, and the
/// adapters whose products are added to it.
///
/// This is the value every matmul of ``DecoderForward`` goes through (the seam llama.cpp
/// calls `build_lora_mm` in src/llama-graph.cpp): a new weight format is a new
/// ``WeightMatrix`` type, a LoRA is one more entry in ``adapters``, and the layer loop does
/// not change.
public struct Projection: @unchecked Sendable {
    /// `[rows × columns]` in its stored block format, multiplied in place.
    public let weight: WeightMatrix
    /// `[rows]`, added to every output row.
    public let bias: FloatVector?
    /// Added products, in order; empty for a plain base model.
    public var adapters: [any ProjectionAdapter]

    public init(weight: WeightMatrix, bias: FloatVector? = nil, adapters: [any ProjectionAdapter] = []) {
        self.weight = weight
        self.bias = bias
        self.adapters = adapters
    }

    /// Output features.
    public var rows: Int { weight.rows }
    /// Input features.
    public var columns: Int { weight.columns }
}

/// A term added to a projection's output: `y += f(x)` for every row of a batch. LoRA
/// (`s·B·(A·x)`), DoRA and other adapters implement it; the forward pass calls it through
/// ``DecoderForward``'s projection seam after the base product, on the same activations.
public protocol ProjectionAdapter: AnyObject, Sendable {
    /// Adds this adapter's term to `output` (`[tokens × outputRows]`, row stride
    /// `outputRows`) for `input` (`[tokens × inputColumns]`).
    func addProduct(
        input: UnsafePointer<Float>, tokens: Int, inputColumns: Int,
        output: UnsafeMutablePointer<Float>, outputRows: Int, pool: ThreadPool)
}

/// A float vector with a stable address for the life of the value (norm weights, biases),
/// so kernels can take a plain pointer without nesting `withUnsafeBufferPointer` calls.
public final class FloatVector: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int

    public init(_ values: [Float]) {
        count = values.count
        pointer = .allocate(capacity: max(1, values.count))
        values.withUnsafeBufferPointer { source in
            if let base = source.baseAddress { pointer.initialize(from: base, count: source.count) }
        }
    }

    deinit { pointer.deallocate() }

    /// The values as an array (tests, export).
    public var array: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
}
