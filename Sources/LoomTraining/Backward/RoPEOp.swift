import Foundation
import LoomKernels

/// Rotary position embedding forward and backward for training, in either pair layout
/// Loom's ``RotaryEmbedding`` supports: half-split `(i, i + dims/2)` (HF's `rotate_half` in
/// transformers `modeling_llama.py` `apply_rotary_pos_emb`, every HF checkpoint and qwen2
/// GGUF) and adjacent `(2i, 2i+1)` (GGUF llama, whose Q/K rows llama.cpp's converter permuted).
///
/// The rotation of each pair is orthogonal (times YaRN's magnitude m, 1 otherwise), so the
/// backward pass is the same rotation by −θ: `∂L/∂x = m·R(−θ)·∂L/∂y`.
public struct RoPEOp<T: TrainingScalar> {
    public let layout: RotaryEmbedding.PairLayout
    /// Rotated dimensions per head; the rest of the head passes through.
    public let dimensions: Int
    /// `[positions × dims/2]` cos·m and sin·m of every row's angles, row-major.
    let cosines: [T]
    let sines: [T]

    /// Tables for `positions` (one entry per activation row) from `rope`'s frequencies.
    public init(_ rope: RotaryEmbedding, positions: [Int]) {
        layout = rope.layout
        dimensions = rope.dimensions
        let half = rope.dimensions / 2
        var c = [T](repeating: 0, count: positions.count * half), s = c
        let m = Double(rope.magnitude)
        for (row, p) in positions.enumerated() {
            for i in 0..<half {
                // The same Double angle RotaryEmbedding.fillTable computes.
                let angle = Double(p) * rope.inverseFrequencies[i]
                c[row * half + i] = T(cos(angle) * m)
                s[row * half + i] = T(sin(angle) * m)
            }
        }
        cosines = c
        sines = s
    }

    /// Rotates `heads` heads of `headDim` in each of `rows` rows (row stride `heads·headDim`)
    /// in place; `inverse` rotates by −θ (the backward pass).
    public func apply(_ x: UnsafeMutablePointer<T>, rows: Int, heads: Int, headDim: Int, inverse: Bool = false) {
        apply(x, rows: 0..<rows, heads: heads, headDim: headDim, inverse: inverse)
    }

    /// ``apply(_:rows:heads:headDim:inverse:)`` on rows `rows` only (each row is independent,
    /// so workers may take disjoint ranges).
    public func apply(_ x: UnsafeMutablePointer<T>, rows: Range<Int>, heads: Int, headDim: Int, inverse: Bool = false) {
        let half = dimensions / 2, adjacent = layout == .adjacent
        cosines.withUnsafeBufferPointer { cosines in
            sines.withUnsafeBufferPointer { sines in
                for r in rows {
                    let cs = cosines.baseAddress! + r * half, sn = sines.baseAddress! + r * half
                    for h in 0..<heads {
                        let v = x + r * heads * headDim + h * headDim
                        for i in 0..<half {
                            let c = cs[i]
                            let s = inverse ? -sn[i] : sn[i]
                            let (ia, ib) = adjacent ? (2 * i, 2 * i + 1) : (i, i + half)
                            let a = v[ia], b = v[ib]
                            v[ia] = a * c - b * s
                            v[ib] = a * s + b * c
                        }
                    }
                }
            }
        }
    }
}
