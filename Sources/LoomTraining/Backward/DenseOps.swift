/// Small dense products on row-major buffers, for LoRA factors and for the gradient checks'
/// dense base weights. `x` is `[tokens × in]`, `w` `[out × in]` (PyTorch's `nn.Linear.weight`).
public enum DenseOps {
    /// `y (+)= x·wᵀ`, `[tokens × out]`.
    public static func multiplyTransposed<T: TrainingScalar>(
        _ x: UnsafePointer<T>, _ w: UnsafePointer<T>, tokens: Int, inputs: Int, outputs: Int,
        into y: UnsafeMutablePointer<T>, accumulate: Bool = false, scale: T = 1
    ) {
        for t in 0..<tokens {
            let xt = x + t * inputs
            for o in 0..<outputs {
                let wo = w + o * inputs
                let s = TrainingKernels.dot(xt, wo, count: inputs)
                y[t * outputs + o] = (accumulate ? y[t * outputs + o] : 0) + scale * s
            }
        }
    }

    /// `dx (+)= dy·w`, `[tokens × in]` (the input gradient of `y = x·wᵀ`).
    public static func multiply<T: TrainingScalar>(
        _ dy: UnsafePointer<T>, _ w: UnsafePointer<T>, tokens: Int, inputs: Int, outputs: Int,
        into dx: UnsafeMutablePointer<T>, accumulate: Bool = false, scale: T = 1
    ) {
        for t in 0..<tokens {
            let dxt = dx + t * inputs
            if !accumulate { for i in 0..<inputs { dxt[i] = 0 } }
            for o in 0..<outputs {
                let g = scale * dy[t * outputs + o]
                if g == 0 { continue }
                TrainingKernels.axpy(g, w + o * inputs, dxt, count: inputs)
            }
        }
    }

    /// `dw += scale · dyᵀ·x`, `[out × in]` (the weight gradient of `y = x·wᵀ`).
    public static func accumulateOuter<T: TrainingScalar>(
        _ dy: UnsafePointer<T>, _ x: UnsafePointer<T>, tokens: Int, inputs: Int, outputs: Int,
        into dw: UnsafeMutablePointer<T>, scale: T = 1
    ) {
        for t in 0..<tokens {
            let xt = x + t * inputs
            for o in 0..<outputs {
                let g = scale * dy[t * outputs + o]
                if g == 0 { continue }
                TrainingKernels.axpy(g, xt, dw + o * inputs, count: inputs)
            }
        }
    }
}
