import LoomKernels
import LoomModels

/// A frozen base projection of the decoder (q, k, v, o, gate, up, down or the LM head) as
/// the trainer uses it: the forward product `y = x·Wᵀ (+ bias)` through Loom's own kernels
/// (``MatMul``), and the input gradient `dx += dy·W`, both on the weight in its stored
/// format — F32, F16, BF16 or any GGUF block format (QLoRA).
///
/// The transposed product dequantises a tile of `tileRows` rows at a time, and only the
/// worker's slice of their columns (block aligned), so the matrix is never expanded whole:
/// the extra memory is `tileRows × columnChunk` floats per worker.
public struct FrozenProjection: @unchecked Sendable {
    public let weight: WeightMatrix
    public let bias: FloatVector?

    /// Rows dequantised together by one worker.
    static let tileRows = 32

    public init(weight: WeightMatrix, bias: FloatVector? = nil) {
        self.weight = weight
        self.bias = bias
    }

    /// The base weight and bias of `projection` (its inference adapters are ignored).
    public init(_ projection: Projection) {
        self.init(weight: projection.weight, bias: projection.bias)
    }

    public var inputs: Int { weight.columns }
    public var outputs: Int { weight.rows }

    /// `y = x·Wᵀ + bias`, `[tokens × outputs]`, through ``MatMul`` (float activations).
    public func forward(_ x: UnsafePointer<Float>, tokens: Int, into y: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        MatMul.multiply(MatMulTarget(weight, y, bias: bias.map { UnsafePointer($0.pointer) }), nil, nil, x,
                        tokens: tokens, pool: pool, integerBatch: false)
    }

    /// `dx += dy·W`, `[tokens × inputs]`, for `dy` `[tokens × outputs]`. Workers own
    /// block-aligned column slices of `dx`, so no two write the same element.
    public func accumulateInputGradient(_ dy: UnsafePointer<Float>, tokens: Int, into dx: UnsafeMutablePointer<Float>,
                                        pool: ThreadPool) {
        let w = weight
        let block = w.type.blockSize
        let columns = w.columns, rows = w.rows
        // Column slices of at most 256 (a K-quant super-block) and at least one block, small
        // enough that every worker gets several (balance on a busy machine).
        let sliceBlocks = max(1, min(256 / block, columns / (block * pool.threadCount * 4)))
        let slice = sliceBlocks * block
        let slices = (columns + slice - 1) / slice
        let tile = Self.tileRows
        pool.parallelFor(count: slices, chunk: 1) { range, worker in
            let scratch = pool.scratch(worker: worker, count: tile * slice)
            for s in range {
                let c0 = s * slice
                let width = min(slice, columns - c0)
                let byteOffset = w.type.byteCount(elements: c0)
                var r0 = 0
                while r0 < rows {
                    let count = min(tile, rows - r0)
                    for rr in 0..<count {
                        RowKernels.dequantize(w.type, w.row(r0 + rr) + byteOffset, into: scratch + rr * width, count: width)
                    }
                    for t in 0..<tokens {
                        let dyt = dy + t * rows + r0, dxt = dx + t * columns + c0
                        for rr in 0..<count {
                            let g = dyt[rr]
                            if g == 0 { continue }
                            VectorOps.axpy(g, scratch + rr * width, dxt, count: width)
                        }
                    }
                    r0 += count
                }
            }
        }
    }
}
