/// The source of RoPE's per-pair frequency divisors (Llama 3.1's `rope_freqs`).
public enum RopePairFactors: Sendable, Equatable {
    /// The model's own: a GGUF `rope_freqs.weight` or an HF `rope_type: llama3` config.
    case stored
    /// None (plain RoPE), as `--rope-scaling none` asks.
    case dropped
    /// These divisors, one per rotated pair (a `--rope-scaling llama3` override).
    case custom([Float])
}
