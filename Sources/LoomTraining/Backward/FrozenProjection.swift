import LoomKernels
import LoomModels

/// A frozen base projection of the decoder (q, k, v, o, gate, up, down or the LM head) as
/// the trainer uses it: the forward product `y = x·Wᵀ (+ bias)` and the input gradient
/// `dx += dy·W`, both through ``TrainingGEMM`` on the weight in its stored format — F32,
/// F16, BF16 or any GGUF block format (QLoRA).
///
/// The GEMM dequantises the weight straight into packed panels of one worker's columns, so
/// the matrix is never expanded whole: the extra memory is `256 × 128` floats per worker.
public struct FrozenProjection: @unchecked Sendable {
    public let weight: WeightMatrix
    public let bias: FloatVector?

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

    /// `y = x·Wᵀ + bias`, `[tokens × outputs]`.
    public func forward(_ x: UnsafePointer<Float>, tokens: Int, into y: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        TrainingGEMM.multiply(x, rows: tokens, lda: inputs, weight, form: .transposed, into: y, ldc: outputs, accumulate: false,
                              bias: bias.map { UnsafePointer($0.pointer) }, pool: pool)
    }

    /// `dx += dy·W`, `[tokens × inputs]`, for `dy` `[tokens × outputs]`.
    public func accumulateInputGradient(_ dy: UnsafePointer<Float>, tokens: Int, into dx: UnsafeMutablePointer<Float>,
                                        pool: ThreadPool) {
        TrainingGEMM.multiply(dy, rows: tokens, lda: outputs, weight, form: .plain, into: dx, ldc: inputs, accumulate: true, pool: pool)
    }
}
