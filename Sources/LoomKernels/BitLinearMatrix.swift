/// A ternary weight matrix in the layout of transformers' BitNet integration
/// (`transformers/integrations/bitnet.py`, `pack_weights` / `unpack_weights`), multiplied in
/// place from the mapped checkpoint.
///
/// The checkpoint stores `[rows/4 × columns]` bytes. Byte `(p, c)` holds four 2-bit codes
/// u ∈ {0, 1, 2} (the weight plus one): bits `2k…2k+1` are row `k·rows/4 + p`, column `c`
/// (`unpacked[k·R : (k+1)·R] = (packed >> 2k) & 3`, R = rows/4). So one stored byte row carries
/// four output rows a quarter of the matrix apart, and ``BitLinearKernel`` computes those four
/// together from one pass over it.
///
/// The output of a row is `Σ w·x̂` for int8 activations x̂ (``BitLinearKernel``), converted
/// to floats with the activation scale and ``weightScale`` in the direction ``scaleUse`` says.
public struct BitLinearMatrix: @unchecked Sendable {
    /// How `weight_scale` enters the output, which differs between transformers' two modules.
    public enum ScaleUse: Sendable, Equatable {
        /// `BitLinear.forward`: `y = (x̂·W) / (x_scale · weight_scale)` (the Llama3-8B-1.58
        /// format, `linear_class: "bitlinear"`).
        case divide
        /// `AutoBitLinear.forward` (offline): `y = (ActQuant(x)·W) · weight_scale`
        /// (`linear_class: "autobitlinear"`, microsoft/bitnet-b1.58-2B-4T).
        case multiply
    }

    /// Output features (a multiple of 4).
    public let rows: Int
    /// Input features.
    public let columns: Int
    /// `[rows/4 × columns]` packed bytes.
    public let base: UnsafePointer<UInt8>
    /// The checkpoint's `weight_scale`.
    public let weightScale: Float
    public let scaleUse: ScaleUse

    /// Wraps packed bytes; `rows` must be a multiple of 4 (callers check shapes and name the
    /// tensor first).
    public init(rows: Int, columns: Int, base: UnsafeRawPointer, weightScale: Float, scaleUse: ScaleUse) {
        precondition(rows % 4 == 0 && rows > 0 && columns > 0, "BitLinearMatrix: \(rows) × \(columns)")
        self.rows = rows
        self.columns = columns
        self.base = base.assumingMemoryBound(to: UInt8.self)
        self.weightScale = weightScale
        self.scaleUse = scaleUse
    }

    /// Stored rows (`rows / 4`).
    public var packedRows: Int { rows / 4 }

    /// Bytes read for one product.
    public var byteCount: Int { packedRows * columns }

    /// The ternary value (−1, 0 or +1) of row `r`, column `c`.
    public func value(row r: Int, column c: Int) -> Int {
        let byte = base[(r % packedRows) * columns + c]
        return Int((byte >> UInt8(2 * (r / packedRows))) & 3) - 1
    }

    /// Row `r` with its scale applied as a float row (tests and export; not the product path).
    public func dequantizeRow(_ r: Int, into destination: UnsafeMutablePointer<Float>) {
        let s = scaleUse == .divide ? 1 / weightScale : weightScale
        for c in 0..<columns { destination[c] = Float(value(row: r, column: c)) * s }
    }
}
