import LoomKernels

/// Mixed-precision training (`--precision bf16|f16|f32`) as `torch.autocast(device_type="cpu",
/// dtype=…)` runs HF's llama/qwen2 decoder with PEFT LoRA: the LoRA master weights, AdamW's
/// state and the gradient accumulators stay f32; the values that autocast makes 16-bit are
/// rounded to bf16 (or f16) where PyTorch would produce them, so the pass sees the same numbers.
///
/// Autocast's CPU op lists (PyTorch `aten/src/ATen/autocast_mode.cpp`, "lower_precision_fp"
/// vs "fp32" for `at::kCPU`) put `linear`/`matmul`/`mm`/`addmm` and
/// `scaled_dot_product_attention` in low precision; everything else runs in the dtype of its
/// inputs, with type promotion (a bf16 + f32 add gives f32). Through the llama decoder
/// (transformers `modeling_llama.py`) that gives, and Loom rounds accordingly:
///
/// - **16-bit** (rounded): every projection's input (autocast casts it) and output, the LoRA
///   weights as used (autocast casts `lora_A`/`lora_B`), `lora_A`'s output, `lora_B`'s output,
///   its product by `scaling` and the sum with the base output (PEFT `Linear.forward`); the
///   queries/keys/values as attention reads them and the attention output (SDPA on CPU takes
///   16-bit inputs, accumulates in f32 and returns 16-bit); SiLU(gate)·up (bf16 ops on bf16
///   inputs); the logits (the LM head's output).
/// - **f32**: the residual stream (embedding f32 + bf16 branch promotes to f32), RMSNorm
///   (`LlamaRMSNorm` upcasts to f32 and multiplies by its f32 weight), RoPE (the cos/sin
///   tables are f32, so `q·cos + rotate_half(q)·sin` promotes), the softmax inside attention,
///   and the loss (`ForCausalLMLoss` calls `logits.float()`; `cross_entropy` is on the CPU
///   fp32 list).
///
/// Gradients follow autograd's rule that a tensor's gradient has the tensor's dtype: the
/// gradient entering a 16-bit op's output is rounded, each 16-bit matmul's input gradient is
/// rounded, and where several 16-bit branches meet at an f32 tensor (q/k/v at the normed
/// input, base and LoRA path) they are summed in f32. The LoRA weight gradients are 16-bit
/// products (rounded) accumulated into the f32 `.grad` of the master weights.
///
/// Where Loom's fused ops do more in one step than eager PyTorch, the intermediate stays f32:
/// SwiGLU computes `silu(g)·up` and its gradient without rounding `silu(g)` on its own, and a
/// dropout mask is applied to the already rounded input. These are single roundings of
/// values that are rounded right after; the parity test's tolerance covers them.
public struct PrecisionPolicy: Sendable, Equatable {
    /// The 16-bit format of activations and gradients, or f32 for none.
    public let precision: FineTuneConfig.Precision

    public init(_ precision: FineTuneConfig.Precision) {
        self.precision = precision
    }

    public static let f32 = PrecisionPolicy(.f32)

    /// True for bf16 and f16.
    public var isReduced: Bool { precision != .f32 }

    /// `x` rounded to the format (round to nearest even; f16 overflows to ±∞ beyond 65504,
    /// as a cast in PyTorch does).
    @inline(__always) public func round(_ x: Float) -> Float {
        switch precision {
        case .f32: return x
        case .bf16: return bf16ToFloat(floatToBF16(x))
        case .f16: return halfToFloat(floatToHalf(x))
        }
    }

    /// Rounds `count` values in place.
    public func round(_ p: UnsafeMutablePointer<Float>, count: Int) {
        switch precision {
        case .f32: return
        case .bf16: for i in 0..<count { p[i] = bf16ToFloat(floatToBF16(p[i])) }
        case .f16: for i in 0..<count { p[i] = halfToFloat(floatToHalf(p[i])) }
        }
    }

    /// Rounds a whole buffer in place.
    public func round(_ buffer: TrainingBuffer<Float>) { round(buffer.pointer, count: buffer.count) }

    /// The 16-bit pattern of `x` (which should already be rounded: then it is exact).
    @inline(__always) func bits(_ x: Float) -> UInt16 {
        precision == .f16 ? floatToHalf(x) : floatToBF16(x)
    }

    /// The value of a 16-bit pattern.
    @inline(__always) func value(_ bits: UInt16) -> Float {
        precision == .f16 ? halfToFloat(bits) : bf16ToFloat(bits)
    }
}
