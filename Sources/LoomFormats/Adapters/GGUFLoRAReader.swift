import LoomKernels

/// Reads a llama.cpp GGUF LoRA (`convert_lora_to_gguf.py`; loader `src/llama-adapter.cpp`
/// `llama_adapter_lora_init_impl`): `general.type = adapter`, `adapter.type = lora`,
/// `adapter.lora.alpha`, and for each adapted tensor `NAME.lora_a` (ggml `[n_in, r]`, i.e.
/// PyTorch `[r, in]`) and `NAME.lora_b` (ggml `[r, n_out]`, PyTorch `[out, r]`). The scale is
/// llama.cpp's: `alpha / r` when alpha is set, else 1.
enum GGUFLoRAReader {
    static func read(path: String) throws -> LoRAAdapter {
        let file: GGUFFile
        do { file = try GGUFFile(path: path) } catch let e as GGUFError {
            throw LoRAAdapterError(path: path, field: e.field, reason: e.reason)
        }
        func fail(_ field: String?, _ reason: String) -> LoRAAdapterError { LoRAAdapterError(path: path, field: field, reason: reason) }
        guard file["general.type"]?.stringValue == "adapter" else {
            throw fail("general.type", "is \(file["general.type"]?.stringValue.map { "'\($0)'" } ?? "missing"), expected 'adapter': this is not a LoRA adapter file (a base model?)")
        }
        guard file["adapter.type"]?.stringValue == "lora" else {
            throw fail("adapter.type", "is \(file["adapter.type"]?.stringValue.map { "'\($0)'" } ?? "missing"), expected 'lora'")
        }
        let alpha: Double
        switch file["adapter.lora.alpha"] {
        case nil: alpha = 0
        case let value?:
            guard let a = value.doubleValue, a.isFinite, a >= 0 else {
                throw fail("adapter.lora.alpha", "\(value) is not a non-negative number")
            }
            alpha = a
        }
        var modules: [String: LoRAAdapter.Module] = [:]
        for tensor in file.tensors {
            if tensor.name.hasSuffix("_norm.weight") { continue }  // llama.cpp ignores these too
            let base: String
            if tensor.name.hasSuffix(".lora_a") { base = String(tensor.name.dropLast(".lora_a".count)) } else if tensor.name.hasSuffix(".lora_b") {
                guard file.tensor(named: String(tensor.name.dropLast(1)) + "a") != nil else {
                    throw fail(tensor.name, "has no matching .lora_a")
                }
                continue
            } else {
                throw fail(tensor.name, "is not a LoRA tensor (expected NAME.lora_a / NAME.lora_b)")
            }
            if base.hasPrefix("token_embd") {
                throw fail(tensor.name, "LoRA on the token embedding is not supported")
            }
            guard let b = file.tensor(named: base + ".lora_b") else { throw fail(tensor.name, "has no matching .lora_b") }
            guard tensor.dimensions.count == 2, b.dimensions.count == 2 else {
                throw fail(base, "lora_a \(tensor.dimensions) and lora_b \(b.dimensions) must be matrices")
            }
            let inputs = tensor.dimensions[0], rank = tensor.dimensions[1], outputs = b.dimensions[1]
            guard b.dimensions[0] == rank else {
                throw fail(base, "rank mismatch: lora_a is \(tensor.dimensions) ([n_in, r]) but lora_b is \(b.dimensions) ([r, n_out])")
            }
            let scale = alpha != 0 ? Float(alpha / Double(rank)) : 1
            modules[base] = LoRAAdapter.Module(rank: rank, inputs: inputs, outputs: outputs,
                                               a: try floats(file, tensor, path: path), b: try floats(file, b, path: path),
                                               scale: scale)
        }
        guard !modules.isEmpty else { throw fail(nil, "holds no LoRA tensors") }
        return LoRAAdapter(path: path, architecture: file["general.architecture"]?.stringValue, space: .gguf, modules: modules)
    }

    /// A tensor's values as floats, whatever its (float or block) type.
    static func floats(_ file: GGUFFile, _ tensor: GGUFTensorInfo, path: String) throws -> [Float] {
        floatsOf(file, tensor)
    }

    static func floatsOf(_ file: GGUFFile, _ tensor: GGUFTensorInfo) -> [Float] {
        var values = [Float](repeating: 0, count: tensor.elementCount)
        values.withUnsafeMutableBufferPointer {
            RowKernels.dequantize(tensor.type, file.data(for: tensor), into: $0.baseAddress!, count: tensor.elementCount)
        }
        return values
    }
}
