import Foundation

/// Rotary position embedding (RoPE) for one model: the per-pair frequencies and the way
/// pairs are formed, applied to query/key heads in place.
///
/// GGUF `llama` files rotate adjacent pairs (2i, 2i+1) because llama.cpp's converter permuted
/// the Q/K rows; `qwen2` GGUF files and all HF checkpoints rotate (i, i + d/2) (llama.cpp
/// `convert_hf_to_gguf.py` `LlamaModel.permute`, `src/llama-model.cpp` `llama_model_rope_type`).
public struct RotaryEmbedding: Sendable {
    /// How rotated pairs are laid out in a head.
    public enum PairLayout: Sendable, Equatable {
        /// (2i, 2i+1): llama.cpp's LLAMA_ROPE_TYPE_NORM.
        case adjacent
        /// (i, i + dims/2): llama.cpp's LLAMA_ROPE_TYPE_NEOX and HF's `rotate_half`.
        case halfSplit
    }

    public let layout: PairLayout
    /// Rotated dimensions per head (the first `dimensions` of each head; the rest pass through).
    public let dimensions: Int
    /// Angle per position for pair i: base^(-2i/dims) / freqFactor[i] × positionScale.
    public let inverseFrequencies: [Double]
    /// Factor on cos and sin (YaRN's attention factor); 1 otherwise.
    public let magnitude: Float

    /// - Parameters:
    ///   - base: θ, `rope.freq_base` / `rope_theta`.
    ///   - frequencyFactors: llama3-style per-pair divisors (`rope_freqs`), if any.
    ///   - positionScale: linear scaling (1/factor), 1 for none.
    ///   - magnitude: factor on cos and sin (YaRN), 1 for none.
    public init(layout: PairLayout, dimensions: Int, base: Double, frequencyFactors: [Float]? = nil, positionScale: Double = 1,
                magnitude: Float = 1) {
        self.layout = layout
        self.magnitude = magnitude
        self.dimensions = dimensions
        inverseFrequencies = (0..<dimensions / 2).map { i in
            let factor = frequencyFactors.map { Double($0[i]) } ?? 1
            return pow(base, -2 * Double(i) / Double(dimensions)) / factor * positionScale
        }
    }

    /// Writes `cos` and `sin` of each pair's angle at `position` into `table` (2 × dims/2 floats):
    /// computed once per token and shared by every layer and head.
    public func fillTable(position: Int, into table: UnsafeMutablePointer<Float>) {
        let half = dimensions / 2
        for i in 0..<half {
            let angle = Double(position) * inverseFrequencies[i]
            table[i] = Float(cos(angle)) * magnitude
            table[half + i] = Float(sin(angle)) * magnitude
        }
    }

    /// Rotates `heads` consecutive heads of `headDim` floats at `x` using a table from ``fillTable``.
    @inlinable
    public func apply(_ x: UnsafeMutablePointer<Float>, heads: Int, headDim: Int, table: UnsafePointer<Float>) {
        let half = dimensions / 2
        let cosT = table, sinT = table + half
        for h in 0..<heads {
            let v = x + h * headDim
            switch layout {
            case .adjacent:
                for i in 0..<half {
                    let a = v[2 * i], b = v[2 * i + 1]
                    v[2 * i] = a * cosT[i] - b * sinT[i]
                    v[2 * i + 1] = a * sinT[i] + b * cosT[i]
                }
            case .halfSplit:
                for i in 0..<half {
                    let a = v[i], b = v[i + half]
                    v[i] = a * cosT[i] - b * sinT[i]
                    v[i + half] = a * sinT[i] + b * cosT[i]
                }
            }
        }
    }
}
