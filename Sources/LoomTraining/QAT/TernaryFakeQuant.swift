import LoomKernels

/// The fake quantisation of BitNet b1.58's `BitLinear` with the warm-up factor λ of Hugging
/// Face's "Fine-tuning LLMs to 1.58bit: extreme quantization made easy"
/// (https://huggingface.co/blog/1_58_llm_extreme_quantization, section "Finetuning in 1.58bit"):
///
///     x_quant = x + λ·(activation_quant(x) − x).detach()
///     w_quant = w + λ·(weight_quant(w) − w).detach()
///
/// with, as in the blog and Microsoft's "The Era of 1-bit LLMs: Training Tips, Code and FAQ"
/// (also transformers' `docs/source/en/quantization/bitnet.md`):
///
///     weight_quant(w):     scale = 1 / w.abs().mean().clamp(min=1e-5)       (per tensor, absmean)
///                          (w·scale).round().clamp(−1, 1) / scale
///     activation_quant(x): scale = 127 / x.abs().max(dim=−1).clamp(min=1e-5) (per token, absmax)
///                          (x·scale).round().clamp(−128, 127) / scale
///
/// λ = 0 is the unquantised model, λ = 1 the ternary-weight, int8-activation one. The
/// `.detach()` is the straight-through estimator: the backward pass treats both maps as the
/// identity, so ∂L/∂w = ∂L/∂w_quant and ∂L/∂x = ∂L/∂x_quant (the caller's business: nothing
/// here has a backward).
///
/// Every expression is evaluated in f32 in the order PyTorch evaluates it (multiply by the
/// scale, round half to even as `torch.round`, clamp, divide by the scale), so the values
/// agree with a PyTorch reference bit for bit except for the absmean, which is summed in
/// f64 here (torch sums f32 pairwise: the two differ in the last bit at most).
public enum TernaryFakeQuant {
    /// The lower bound of the absmean and absmax denominators (the recipe's `clamp_(min=1e-5)`).
    public static let epsilon: Float = 1e-5

    /// `1 / max(mean|w|, 1e-5)`: the per-tensor scale of `weight_quant` — the one
    /// `loom quantize --ternary` ternarises with (``TernaryPacking``), so a latent model
    /// quantised that way is the λ = 1 model of training.
    public static func weightScale(_ w: UnsafePointer<Float>, count: Int) -> Float {
        count > 0 ? TernaryPacking.absmeanInverseScale(w, count: count) : 1 / epsilon
    }

    /// `weight_quant` of one value for `scale` (``weightScale(_:count:)``): −1/s, 0 or 1/s.
    @inlinable
    public static func ternary(_ w: Float, scale: Float) -> Float {
        Float(TernaryPacking.ternary(w, inverseScale: scale)) / scale
    }

    /// `out = w + λ·(weight_quant(w) − w)` over the whole tensor; returns the scale.
    @discardableResult
    public static func weights(_ w: UnsafePointer<Float>, count: Int, lambda: Float, into out: UnsafeMutablePointer<Float>) -> Float {
        let scale = weightScale(w, count: count)
        if lambda == 0 {
            out.update(from: w, count: count)
            return scale
        }
        for i in 0..<count {
            out[i] = w[i] + lambda * (ternary(w[i], scale: scale) - w[i])
        }
        return scale
    }

    /// `out = x + λ·(activation_quant(x) − x)` for `rows` tokens of `columns` features, each
    /// row with its own absmax scale. `out` may be `x`.
    public static func activations(_ x: UnsafePointer<Float>, rows: Int, columns: Int, lambda: Float,
                                   into out: UnsafeMutablePointer<Float>) {
        for r in 0..<rows {
            let xr = x + r * columns, yr = out + r * columns
            if lambda == 0 {
                if xr != UnsafePointer(yr) { yr.update(from: xr, count: columns) }
                continue
            }
            var peak: Float = 0
            for i in 0..<columns { peak = max(peak, abs(xr[i])) }
            let scale = 127 / max(peak, epsilon)
            for i in 0..<columns {
                let q = min(max((xr[i] * scale).rounded(.toNearestOrEven), -128), 127) / scale
                yr[i] = xr[i] + lambda * (q - xr[i])
            }
        }
    }
}
