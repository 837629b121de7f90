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

    init(gguf file: GGUFFile) {
        path = file.path
        lookup = { name in
            file.tensor(named: name).map { Tensor(type: $0.type, dimensions: $0.dimensions, base: file.data(for: $0)) }
        }
    }

    /// HF safetensors tensors under their GGUF names (`naming`, the architecture's);
    /// F32/F16/BF16 are used in place.
    init(checkpoint: SafetensorsCheckpoint, naming: HFTensorNaming, path: String) {
        self.path = path
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
