/// Absmean ternarisation and Loom's packed ternary layout, for matrices of any row length.
///
/// **Ternarisation** is BitNet b1.58's (Ma et al. 2024, "The Era of 1-bit LLMs", eq. 1–3) as
/// transformers' `BitLinear.weight_quant` computes it (`transformers/integrations/bitnet.py`):
/// `s = 1 / max(mean|W|, 1e-5)`, `q = clamp(round(W·s), −1, 1)` with round-half-to-even
/// (`torch.round`), and the value `q / s`. One scale per matrix.
///
/// **Packing** is transformers' `pack_weights` layout, which ``BitLinearMatrix`` multiplies in
/// place: `[rows/4 × columns]` bytes, byte `(p, c)` holding in bits `2k…2k+1` the code
/// `q + 1` of row `k·rows/4 + p`, column `c`. TQ1_0/TQ2_0 need rows of whole 256-element
/// blocks, which the test models' 576- and 896-wide matrices are not; this layout needs only
/// `rows % 4 == 0`, stores 2 bits per weight plus one scale, and is what Loom writes to GGUF
/// as an I8 tensor `[columns, rows/4]` with an F32 `<name>.scale` (see ``TernaryGGUFLayout``
/// in LoomFormats).
public enum TernaryPacking {
    /// The floor of `mean|W|` (transformers: `clamp_(min=1e-5)`).
    public static let epsilon: Float = 1e-5

    /// `s = 1 / max(mean|W|, ε)` over `count` values. The mean is summed in `Double`, so it
    /// is the correctly rounded mean where PyTorch's float32 reduction may differ by an ulp.
    public static func absmeanInverseScale(_ w: UnsafePointer<Float>, count: Int) -> Float {
        precondition(count > 0, "TernaryPacking: an empty matrix has no scale")
        var sum = 0.0
        for i in 0..<count { sum += Double(abs(w[i])) }
        let mean = Float(sum / Double(count))
        return 1 / max(mean, epsilon)
    }

    /// The ternary value q ∈ {−1, 0, +1} of `w` under inverse scale `s`. NaN becomes 0.
    @inline(__always)
    public static func ternary(_ w: Float, inverseScale s: Float) -> Int8 {
        let r = (w * s).rounded(.toNearestOrEven)
        return r >= 1 ? 1 : r <= -1 ? -1 : 0
    }

    /// Packs `rows × columns` row-major floats, ternarised with inverse scale `s`, into
    /// `rows/4 × columns` bytes at `packed` (`rows` must be a multiple of 4).
    public static func pack(_ w: UnsafePointer<Float>, rows: Int, columns: Int, inverseScale s: Float,
                            into packed: UnsafeMutablePointer<UInt8>) {
        precondition(rows % 4 == 0 && rows > 0, "TernaryPacking.pack: \(rows) rows is not a positive multiple of 4")
        let quarter = rows / 4
        for p in 0..<quarter {
            for c in 0..<columns {
                var byte: UInt8 = 0
                for k in 0..<4 {
                    let q = ternary(w[(k * quarter + p) * columns + c], inverseScale: s)
                    byte |= UInt8(q + 1) << UInt8(2 * k)
                }
                packed[p * columns + c] = byte
            }
        }
    }

    /// The values of a matrix that is already ternary up to one scale (a converted BitNet
    /// checkpoint, or a ternarised model being repacked): the scale `d` with every value in
    /// {−d, 0, +d}, or nil when the values are not of that form (or all zero).
    public static func exactScale(_ w: UnsafePointer<Float>, count: Int) -> Float? {
        var d: Float = 0
        for i in 0..<count where w[i] != 0 {
            let a = abs(w[i])
            if d == 0 { d = a } else if a != d { return nil }
        }
        return d > 0 && d.isFinite ? d : nil
    }
}
