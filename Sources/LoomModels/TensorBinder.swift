import LoomFormats
import LoomKernels

/// Looks tensors up by their GGUF name, in a GGUF file or an HF checkpoint, and checks their
/// shape and type.
struct TensorBinder {
    /// A tensor as the binder needs it: type, ggml-order dimensions (columns first), bytes.
    struct Tensor {
        let type: GGMLType
        let dimensions: [Int]
        let base: UnsafeRawPointer
        var elementCount: Int { dimensions.reduce(1, *) }
    }

    let path: String
    let lookup: (String) throws -> Tensor?
    /// The packed BitNet weight stored under a GGUF name, or nil when that tensor is not
    /// packed (HF BitNet checkpoints only; see ``init(checkpoint:naming:path:bitNet:)``).
    var packedLookup: (_ name: String, _ columns: Int, _ rows: Int) throws -> BitLinearMatrix? = { _, _, _ in nil }

    init(gguf file: GGUFFile) {
        path = file.path
        lookup = { name in
            file.tensor(named: name).map { Tensor(type: $0.type, dimensions: $0.dimensions, base: file.data(for: $0)) }
        }
        packedLookup = { name, columns, rows in
            guard let t = file.tensor(named: name), t.type.holdsIntegers else { return nil }
            return try Self.packedTernary(t, file: file, columns: columns, rows: rows)
        }
    }

    /// Loom's packed ternary projection in a GGUF file (``TernaryGGUFLayout``): I8 codes
    /// `[columns, rows/4]` and an F32 `<stem>.scale` multiplying the product.
    private static func packedTernary(_ t: GGUFTensorInfo, file: GGUFFile, columns: Int, rows: Int) throws -> BitLinearMatrix {
        let path = file.path
        guard rows % 4 == 0, t.dimensions == TernaryGGUFLayout.packedDimensions(rows: rows, columns: columns) else {
            throw ModelError.tensorShape(name: "\(t.name) (packed ternary I8: [columns, rows/4] for a \(rows) × \(columns) matrix)",
                                         expected: TernaryGGUFLayout.packedDimensions(rows: rows, columns: columns), actual: t.dimensions, path: path)
        }
        let scaleName = TernaryGGUFLayout.scaleName(forWeight: t.name)
        guard let scaleInfo = file.tensor(named: scaleName) else {
            throw ModelError.missingTensor(name: "\(scaleName) (the scale of packed ternary weight \(t.name))", path: path)
        }
        guard scaleInfo.elementCount == 1, !scaleInfo.type.holdsIntegers else {
            throw ModelError.tensorShape(name: "\(scaleName) (one float scale per packed ternary weight)", expected: [1], actual: scaleInfo.dimensions, path: path)
        }
        var scale: Float = 0
        RowKernels.dequantize(scaleInfo.type, file.data(for: scaleInfo), into: &scale, count: 1)
        guard scale.isFinite, scale > 0 else {
            throw ModelError.tensorType(name: scaleName, type: "\(scaleInfo.type)", reason: "scale \(scale) is not a positive finite number", path: path)
        }
        return BitLinearMatrix(rows: rows, columns: columns, base: file.data(for: t), weightScale: scale, scaleUse: .multiply)
    }

    /// HF safetensors tensors under their GGUF names (`naming`, the architecture's);
    /// F32/F16/BF16 are used in place.
    ///
    /// With `bitNet` (a `quantization_config` of `quant_method: "bitnet"`), uint8 linear
    /// weights are packed ternary ones (transformers/integrations/bitnet.py): `[rows/4 ×
    /// columns]` bytes plus `<name>_scale` holding one float, used in place. Float linears stay
    /// float (the integration's `modules_to_not_convert`, and lm_head, which it never packs).
    init(checkpoint: SafetensorsCheckpoint, naming: HFTensorNaming, path: String, bitNet: HFBitNetQuantization? = nil) {
        self.path = path
        if let bitNet {
            packedLookup = { name, columns, rows in
                guard let hfName = naming.hfName(forGGUF: name), let (file, info) = checkpoint.tensor(named: hfName),
                      info.dtype == .u8 else { return nil }
                return try Self.packedTernary(hfName, file: file, info: info, columns: columns, rows: rows,
                                              checkpoint: checkpoint, linearClass: bitNet.linearClass, path: path)
            }
        }
        lookup = { name in
            guard let hfName = naming.hfName(forGGUF: name), let (file, info) = checkpoint.tensor(named: hfName) else {
                return nil
            }
            guard let type = info.dtype.ggmlType else {
                throw ModelError.tensorType(name: hfName, type: info.dtype.rawValue, reason: "only F32, F16 and BF16 weights can be used", path: path)
            }
            guard let base = file.data(info).baseAddress else {
                throw ModelError.tensorShape(name: hfName, expected: [], actual: info.shape, path: path)
            }
            return Tensor(type: type, dimensions: info.shape.reversed(), base: base)
        }
    }

    /// One packed BitNet linear and its `weight_scale`, every size checked against the config.
    private static func packedTernary(
        _ hfName: String, file: SafetensorsFile, info: SafetensorsTensorInfo, columns: Int, rows: Int,
        checkpoint: SafetensorsCheckpoint, linearClass: HFBitNetQuantization.LinearClass, path: String
    ) throws -> BitLinearMatrix {
        guard rows % 4 == 0 else {
            throw ModelError.tensorShape(name: "\(hfName) (packed BitNet weights hold 4 rows per byte; \(rows) rows is not a multiple of 4)",
                                         expected: [rows / 4, columns], actual: info.shape, path: path)
        }
        guard info.shape == [rows / 4, columns], let base = file.data(info).baseAddress else {
            throw ModelError.tensorShape(name: "\(hfName) (packed BitNet: [out_features/4, in_features] uint8 for a \(rows) × \(columns) matrix)",
                                         expected: [rows / 4, columns], actual: info.shape, path: path)
        }
        let scaleName = hfName + "_scale"
        guard let (scaleFile, scaleInfo) = checkpoint.tensor(named: scaleName) else {
            throw ModelError.missingTensor(name: "\(scaleName) (the weight_scale of packed BitNet weight \(hfName))", path: path)
        }
        guard scaleInfo.shape.reduce(1, *) == 1, scaleInfo.shape.count <= 1 else {
            throw ModelError.tensorShape(name: "\(scaleName) (one scale per BitNet weight)", expected: [1], actual: scaleInfo.shape, path: path)
        }
        guard let type = scaleInfo.dtype.ggmlType, let scaleBase = scaleFile.data(scaleInfo).baseAddress else {
            throw ModelError.tensorType(name: scaleName, type: scaleInfo.dtype.rawValue, reason: "weight_scale must be F32, F16 or BF16", path: path)
        }
        var scale: Float = 0
        RowKernels.dequantize(type, scaleBase, into: &scale, count: 1)
        guard scale.isFinite, scale > 0 else {
            throw ModelError.tensorType(name: scaleName, type: scaleInfo.dtype.rawValue, reason: "weight_scale \(scale) is not a positive finite number", path: path)
        }
        return BitLinearMatrix(rows: rows, columns: columns, base: base, weightScale: scale,
                               scaleUse: linearClass == .bitLinear ? .divide : .multiply)
    }

    /// A linear layer's weight: packed BitNet codes where the checkpoint has them, else a
    /// block-format matrix (``matrix(_:columns:rows:)``).
    func projection(_ name: String, columns: Int, rows: Int, bias: FloatVector? = nil) throws -> Projection {
        if let packed = try packedLookup(name, columns, rows) {
            return Projection(storage: .bitLinear(packed), bias: bias)
        }
        return Projection(weight: try matrix(name, columns: columns, rows: rows), bias: bias)
    }

    func has(_ name: String) -> Bool {
        ((try? lookup(name)) ?? nil) != nil
    }

    func info(_ name: String) throws -> Tensor {
        guard let t = try lookup(name) else {
            throw ModelError.missingTensor(name: name, path: path)
        }
        return t
    }

    func matrix(_ name: String, columns: Int, rows: Int) throws -> WeightMatrix {
        let t = try info(name)
        guard !t.type.holdsIntegers else {
            throw ModelError.tensorType(name: name, type: "\(t.type)", reason: "I8 holds Loom's packed ternary codes, which only per-layer projections (q, k, v, o, gate, up, down) can use", path: path)
        }
        guard t.dimensions == [columns, rows] else {
            throw ModelError.tensorShape(name: name, expected: [columns, rows], actual: t.dimensions, path: path)
        }
        return WeightMatrix(type: t.type, rows: rows, columns: columns, base: t.base)
    }

    /// A small vector (norm weight, bias, RoPE factors) dequantised to floats.
    func vector(_ name: String, count: Int) throws -> [Float] {
        let t = try info(name)
        guard t.elementCount == count, t.dimensions.count == 1 else {
            throw ModelError.tensorShape(name: name, expected: [count], actual: t.dimensions, path: path)
        }
        guard count % t.type.blockSize == 0 else {
            throw ModelError.tensorType(name: name, type: "\(t.type)", reason: "a vector must be a float type", path: path)
        }
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            RowKernels.dequantize(t.type, t.base, into: buffer.baseAddress!, count: count)
            initialized = count
        }
    }
}
