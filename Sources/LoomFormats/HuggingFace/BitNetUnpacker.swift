/// One packed linear of an HF BitNet checkpoint (transformers/integrations/bitnet.py
/// `pack_weights`: `[rows/4 × columns]` uint8, value k of byte `(p, c)` — bits `2k…2k+1`,
/// minus one — is row `k·rows/4 + p`) expanded to the float matrix its module multiplies by:
/// ternary × `weight_scale` for AutoBitLinear, ternary ÷ `weight_scale` for BitLinear. For
/// conversion to GGUF (one tensor in memory at a time); inference uses the packed bytes in place.
struct BitNetUnpacker {
    let rows: Int
    let columns: Int
    /// What one ternary unit is worth.
    let unit: Float
    private let bytes: UnsafeRawBufferPointer
    private let name: String
    private let path: String

    /// nil when `info` is not a packed (uint8) tensor.
    init?(weights: SafetensorsCheckpoint, name: String, info: SafetensorsTensorInfo,
          linearClass: HFBitNetQuantization.LinearClass, path: String) throws {
        guard info.dtype == .u8 else { return nil }
        guard info.shape.count == 2, let (file, _) = weights.tensor(named: name) else {
            throw HFConfigError(path: path, field: name, reason: "packed BitNet weight has shape \(info.shape), expected [out_features/4, in_features]")
        }
        let scaleName = name + "_scale"
        guard let (scaleFile, scaleInfo) = weights.tensor(named: scaleName) else {
            throw HFConfigError(path: path, field: scaleName, reason: "missing (the weight_scale of packed BitNet weight \(name))")
        }
        guard scaleInfo.elementCount == 1, scaleInfo.shape.count <= 1,
              [.f32, .f16, .bf16].contains(scaleInfo.dtype) else {
            throw HFConfigError(path: path, field: scaleName, reason: "\(scaleInfo.dtype.rawValue) \(scaleInfo.shape): expected one F32/F16/BF16 value")
        }
        let scale = try scaleFile.floats(scaleInfo)[0]
        guard scale.isFinite, scale > 0 else {
            throw HFConfigError(path: path, field: scaleName, reason: "weight_scale \(scale) is not a positive finite number")
        }
        rows = info.shape[0] * 4
        columns = info.shape[1]
        unit = linearClass == .bitLinear ? 1 / scale : scale
        bytes = file.data(info)
        self.name = name
        self.path = path
    }

    /// The `[rows × columns]` floats, row-major. The unused code 3 (a value of +2, not
    /// ternary) is an error with its count: a GGUF of it would not be what the checkpoint says.
    func floats() throws -> [Float] {
        let packedRows = rows / 4
        var out = [Float](repeating: 0, count: rows * columns)
        let values: [Float] = [-unit, 0, unit, 0]
        var invalid = 0
        for k in 0..<4 {
            for p in 0..<packedRows {
                let dst = (k * packedRows + p) * columns, src = p * columns
                for c in 0..<columns {
                    let code = Int((bytes[src + c] >> UInt8(2 * k)) & 3)
                    if code == 3 { invalid += 1 }
                    out[dst + c] = values[code]
                }
            }
        }
        guard invalid == 0 else {
            throw HFConfigError(path: path, field: name, reason: "\(invalid) of \(rows * columns) packed values are not ternary (2-bit code 3)")
        }
        return out
    }
}
