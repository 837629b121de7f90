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
                var s: T = 0
                for i in 0..<inputs { s += xt[i] * wo[i] }
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
                let wo = w + o * inputs
                for i in 0..<inputs { dxt[i] += g * wo[i] }
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
                let dwo = dw + o * inputs
                for i in 0..<inputs { dwo[i] += g * xt[i] }
            }
        }
    }
}
