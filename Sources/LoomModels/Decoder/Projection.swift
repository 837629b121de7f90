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
    /// How the weight is stored.
    public enum Storage: @unchecked Sendable {
        /// A GGUF/HF block format, multiplied by ``MatMul``.
        case matrix(WeightMatrix)
        /// Packed ternary codes of an HF BitNet checkpoint with int8 per-token activations,
        /// multiplied by ``BitLinearKernel``.
        case bitLinear(BitLinearMatrix)
    }

    public let storage: Storage
    /// `[rows]`, added to every output row.
    public let bias: FloatVector?
    /// Added products, in order; empty for a plain base model.
    public var adapters: [any ProjectionAdapter]

    public init(weight: WeightMatrix, bias: FloatVector? = nil, adapters: [any ProjectionAdapter] = []) {
        self.init(storage: .matrix(weight), bias: bias, adapters: adapters)
    }

    public init(storage: Storage, bias: FloatVector? = nil, adapters: [any ProjectionAdapter] = []) {
        self.storage = storage
        self.bias = bias
        self.adapters = adapters
    }

    /// `[rows × columns]` in its stored block format, multiplied in place. Only for
    /// ``Storage/matrix(_:)`` projections: callers that need a block-format matrix (training,
    /// DoRA, merging) check ``bitLinear`` first and refuse BitNet weights by name.
    public var weight: WeightMatrix {
        guard case .matrix(let w) = storage else {
            preconditionFailure("a BitLinear projection has no block-format WeightMatrix; check Projection.bitLinear first")
        }
        return w
    }

    /// The packed BitNet weight, if this projection has one.
    public var bitLinear: BitLinearMatrix? {
        if case .bitLinear(let b) = storage { return b }
        return nil
    }

    /// Output features.
    public var rows: Int {
        switch storage {
        case .matrix(let w): return w.rows
        case .bitLinear(let b): return b.rows
        }
    }
    /// Input features.
    public var columns: Int {
        switch storage {
        case .matrix(let w): return w.columns
        case .bitLinear(let b): return b.columns
        }
    }

    /// Bytes of weight read for one product.
    public var weightBytes: Int {
        switch storage {
        case .matrix(let w): return w.rows * w.rowBytes
        case .bitLinear(let b): return b.byteCount
        }
    }
}

/// A term added to a projection's output: `y += f(x)` for every row of a batch. LoRA
/// (`s·B·(A·x)`), DoRA and other adapters implement it; the forward pass calls it through
/// ``DecoderForward``'s projection seam after the base product, on the same activations.
public protocol ProjectionAdapter: AnyObject, Sendable {
    /// The id rows select this adapter by (a LoRA attachment's id), or nil for an adapter
    /// that applies to every row alike. Rows of a batch may belong to different requests,
    /// each with its own adapter scales (punica / S-LoRA's per-row gather).
    var selectionID: Int? { get }

    /// Adds this adapter's term to `output` (`[tokens × outputRows]`, row stride
    /// `outputRows`) for `input` (`[tokens × inputColumns]`). `rowScales` (`[tokens]`, or nil
    /// for "the adapter's own scale on every row") gives each row's scale; 0 skips the row.
    func addProduct(
        input: UnsafePointer<Float>, tokens: Int, inputColumns: Int,
        output: UnsafeMutablePointer<Float>, outputRows: Int, rowScales: UnsafePointer<Float>?, pool: ThreadPool)
}

extension ProjectionAdapter {
    public var selectionID: Int? { nil }
}

/// Per-row scales of the selectable adapters in one forward call: adapter id → `[rows]`.
/// Empty (the common case) means every adapter runs at its own scale on every row.
public struct AdapterRowScales {
    var scales: [Int: UnsafePointer<Float>] = [:]

    public static let none = AdapterRowScales()

    func forAdapter(_ adapter: any ProjectionAdapter) -> UnsafePointer<Float>? {
        guard !scales.isEmpty, let id = adapter.selectionID else { return nil }
        return scales[id]
    }
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
