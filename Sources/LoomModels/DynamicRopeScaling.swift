import Foundation
import LoomKernels

/// RoPE scalings whose frequencies depend on how long the sequence is, computed as
/// transformers' `modeling_rope_utils.py` does (`_compute_dynamic_ntk_parameters`,
/// `_compute_longrope_parameters`) and updated as its `dynamic_rope_update` decorator does:
/// the frequencies a forward call uses are those for the longest sequence seen so far
/// (`max(position_ids) + 1`), and keys already in the cache keep the rotation they were
/// stored with.
///
/// Loom keeps that state per sequence (``KVCache/ropeLength``) rather than per model as
/// transformers does, and starts it afresh whenever a sequence starts at position 0, so a
/// sequence's logits never depend on which sequence ran before it.
public enum DynamicRopeScaling: Sendable, Equatable {
    /// Dynamic NTK (/u/emozilla): up to `trainedContext` positions plain RoPE; past it θ
    /// becomes θ·(factor·n/trained − (factor − 1))^(d/(d−2)) for a sequence of n positions.
    /// transformers measures against `max_position_embeddings`.
    case ntk(factor: Double, trainedContext: Int)
    /// LongRoPE (Phi-3): per-pair divisors `short` while the sequence fits in
    /// `originalContext` positions, `long` beyond; cos and sin are multiplied by
    /// `attentionFactor` in both cases.
    case longrope(short: [Double], long: [Double], originalContext: Int, attentionFactor: Double)

    /// The config name (`rope_type`).
    public var typeName: String {
        switch self {
        case .ntk: return "dynamic"
        case .longrope: return "longrope"
        }
    }

    /// The context the scaling is measured against: longer sequences get scaled frequencies.
    public var originalContext: Int {
        switch self {
        case .ntk(_, let trained): return trained
        case .longrope(_, _, let original, _): return original
        }
    }

    /// LongRoPE's default attention factor: √(1 + ln(factor)/ln(original)), 1 when not
    /// extended (transformers `_compute_longrope_parameters`).
    public static func longropeAttentionFactor(factor: Double, originalContext: Int) -> Double {
        factor <= 1 ? 1 : (1 + log(factor) / log(Double(originalContext))).squareRoot()
    }

    /// The sequence length the frequencies are computed for after positions up to `end`
    /// (exclusive) have been evaluated, given the length they were computed for before
    /// (`previous`, 0 for a new sequence): transformers' growth rule, `max_seq_len_cached`,
    /// starting from the original context.
    public func grownLength(previous: Int, end: Int) -> Int {
        max(previous, originalContext, end)
    }

    /// The rotary embedding of a sequence whose frequencies are set for `length` positions.
    /// - Parameters:
    ///   - base: θ; `dimensions`: rotated dimensions per head; `layout`: the model's pairing;
    ///     `positionScale`: a linear scale on top (`--rope-scale` on a LongRoPE model), 1 for none.
    public func rotaryEmbedding(length: Int, layout: RotaryEmbedding.PairLayout, dimensions: Int, base: Double,
                                positionScale: Double = 1) -> RotaryEmbedding {
        switch self {
        case .ntk(let factor, let trained):
            let n = Double(max(length, trained))
            let d = Double(dimensions)
            let scaledBase = base * pow(factor * n / Double(trained) - (factor - 1), d / (d - 2))
            return RotaryEmbedding(layout: layout, dimensions: dimensions, base: scaledBase, positionScale: positionScale)
        case .longrope(let short, let long, let original, let attention):
            let factors = (length > original ? long : short).map { Float($0) }
            return RotaryEmbedding(layout: layout, dimensions: dimensions, base: base, frequencyFactors: factors,
                                   positionScale: positionScale, magnitude: Float(attention))
        }
    }
}
