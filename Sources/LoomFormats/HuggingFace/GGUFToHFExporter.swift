import Foundation
import LoomKernels

/// Exports a llama/qwen2 GGUF model as a Hugging Face directory: `model.safetensors`
/// (dequantised to F32, F16 or BF16; llama q/k rows un-permuted back to HF's half-split
/// layout), `config.json`, `generation_config.json` and `tokenizer_config.json` (special tokens
/// and chat template). Every file is written atomically.
///
/// Not written: `tokenizer.json` (the vocabulary stays in the GGUF; building a faithful
/// `tokenizer.json` belongs with the tokenizer), and Llama 3.1 `rope_scaling`, whose
/// parameters cannot be recovered from a `rope_freqs` tensor — such files are refused.
///
/// ```swift
/// try GGUFToHFExporter(dtype: .f16).export(gguf: "model.gguf", to: "out-dir")
/// ```
public struct GGUFToHFExporter {
    public var dtype: SafetensorsDType

    public init(dtype: SafetensorsDType = .f32) {
        self.dtype = dtype
    }

    /// Writes the directory (created if missing). Returns the number of tensors written.
    @discardableResult
    public func export(gguf path: String, to directory: String) throws -> Int {
        guard dtype.ggmlType != nil else {
            throw HFConfigError(path: directory, field: "torch_dtype", reason: "\(dtype) is not F32, F16 or BF16")
        }
        let file = try GGUFFile(path: path)
        func fail(_ reason: String) -> HFConfigError { HFConfigError(path: path, field: nil, reason: reason) }
        guard let arch = file["general.architecture"]?.stringValue else { throw fail("general.architecture is missing") }
        var architecture = try ArchitectureRegistry.gguf(arch, path: path)
        let window = file["\(arch).attention.sliding_window"]?.intValue
        if window != nil, !architecture.usesSlidingWindow {
            // A `llama` file with a window is a Mistral as Loom writes it: export the class that has one.
            guard let windowed = ArchitectureRegistry.all.first(where: { $0.ggufWriteName == arch && $0.usesSlidingWindow }) else {
                throw fail("\(arch).attention.sliding_window is set, but \(arch) has no sliding window in transformers")
            }
            architecture = windowed
        }
        func int(_ key: String) throws -> Int {
            guard let v = file["\(arch).\(key)"]?.intValue, v > 0 else { throw fail("\(arch).\(key) is missing or not positive") }
            return v
        }
        if file.tensor(named: "rope_freqs.weight") != nil {
            throw fail("has a rope_freqs tensor (Llama 3.1 RoPE scaling), whose HF rope_scaling parameters cannot be recovered")
        }
        if file.tensor(named: "rope_factors_long.weight") != nil || file.tensor(named: "rope_factors_short.weight") != nil {
            throw fail("has LongRoPE factor tensors (rope_factors_long/short), which this exporter does not write back as rope_scaling")
        }
        let hidden = try int("embedding_length"), heads = try int("attention.head_count")
        let kvHeads = file["\(arch).attention.head_count_kv"]?.intValue ?? heads
        guard let embedding = file.tensor(named: "token_embd.weight"), embedding.dimensions.count == 2 else {
            throw fail("token_embd.weight is missing")
        }
        let tied = file.tensor(named: "output.weight") == nil
        let headDim = file["\(arch).attention.key_length"]?.intValue ?? hidden / heads

        var config: [String: Any] = [
            "architectures": [architecture.hfClassNames[0]],
            "model_type": architecture.hfModelType,
            "hidden_size": hidden,
            "intermediate_size": try int("feed_forward_length"),
            "num_hidden_layers": try int("block_count"),
            "num_attention_heads": heads,
            "num_key_value_heads": kvHeads,
            "head_dim": headDim,
            "rms_norm_eps": Double(file["\(arch).attention.layer_norm_rms_epsilon"]?.doubleValue ?? 1e-6),
            "rope_theta": file["\(arch).rope.freq_base"]?.doubleValue ?? 10_000,
            "max_position_embeddings": try int("context_length"),
            "vocab_size": embedding.dimensions[1],
            "tie_word_embeddings": tied,
            "torch_dtype": dtype == .f32 ? "float32" : dtype == .f16 ? "float16" : "bfloat16",
            "hidden_act": "silu",
        ]
        if architecture.qkvBias == .configured {
            config["attention_bias"] = file.tensor(named: "blk.0.attn_q.bias") != nil
            config["mlp_bias"] = false
        }
        if let window { config["sliding_window"] = window }
        if let type = file["\(arch).rope.scaling.type"]?.stringValue, type == "linear" || type == "yarn",
           let factor = file["\(arch).rope.scaling.factor"]?.doubleValue {
            var scaling: [String: Any] = ["rope_type": type, "factor": factor]
            if type == "yarn", let original = file["\(arch).rope.scaling.original_context_length"]?.intValue {
                scaling["original_max_position_embeddings"] = original
            }
            config["rope_scaling"] = scaling
        }
        let tokens = file["tokenizer.ggml.tokens"]?.stringArray ?? []
        let bos = file["tokenizer.ggml.bos_token_id"]?.intValue, eos = file["tokenizer.ggml.eos_token_id"]?.intValue
        if let bos { config["bos_token_id"] = bos }
        if let eos { config["eos_token_id"] = eos }

        var writer = SafetensorsWriter()
        writer.metadata["format"] = "pt"
        var count = 0
        for t in file.tensors {
            guard let hfName = architecture.tensorNames.hfName(forGGUF: t.name) else { continue }
            var values: [Float], dimensions = t.dimensions
            if t.type.holdsIntegers {
                // Loom's packed ternary projection: exported as ternary × scale floats, the form
                // convert_hf_to_gguf's BitnetModel writes (HF has no packed layout without a
                // quantization_config).
                (values, dimensions) = try Self.unpackTernary(t, file: file, fail: fail)
            } else {
                values = [Float](repeating: 0, count: t.elementCount)
                values.withUnsafeMutableBufferPointer { RowKernels.dequantize(t.type, file.data(for: t), into: $0.baseAddress!, count: t.elementCount) }
            }
            let rows = dimensions.count >= 2 ? dimensions[1] : dimensions[0]
            if architecture.permutesQK, let h = t.name.contains("attn_q.") ? heads : t.name.contains("attn_k.") ? kvHeads : nil {
                guard rows % (2 * h) == 0 else { throw fail("\(t.name): \(rows) rows do not split into \(h) heads of RoPE pairs") }
                values = HFTensorNaming.unpermuteFromGGUF(values, rows: rows, heads: h)
            }
            let outType: SafetensorsDType = dimensions.count >= 2 ? dtype : .f32
            try writer.addTensor(name: hfName, dtype: outType, shape: Array(dimensions.reversed()), floats: values)
            count += 1
        }

        try Self.prepareDirectory(directory)
        func output(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }
        try writer.write(to: output("model.safetensors"))
        try Self.writeJSON(config, to: output("config.json"))
        var generation: [String: Any] = ["_from_model_config": true]
        if let bos { generation["bos_token_id"] = bos }
        if let eos { generation["eos_token_id"] = eos }
        try Self.writeJSON(generation, to: output("generation_config.json"))
        var tokenizerConfig: [String: Any] = ["model_max_length": config["max_position_embeddings"]!]
        if let bos, bos < tokens.count { tokenizerConfig["bos_token"] = tokens[bos] }
        if let eos, eos < tokens.count { tokenizerConfig["eos_token"] = tokens[eos] }
        if let add = file["tokenizer.ggml.add_bos_token"]?.boolValue { tokenizerConfig["add_bos_token"] = add }
        if let template = file["tokenizer.chat_template"]?.stringValue { tokenizerConfig["chat_template"] = template }
        try Self.writeJSON(tokenizerConfig, to: output("tokenizer_config.json"))
        return count
    }

    /// Creates `directory` (and its parents) or checks an existing one is a writable
    /// directory, with a plain message instead of Foundation's "NSCocoaErrorDomain Code=513".
    public static func prepareDirectory(_ directory: String) throws {
        func fail(_ reason: String) -> HFConfigError { HFConfigError(path: directory, field: nil, reason: reason) }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw fail("exists and is not a directory; choose a new or an existing directory") }
        } else {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                let parent = (directory as NSString).deletingLastPathComponent
                throw fail("cannot create the directory (\(FileManager.default.isWritableFile(atPath: parent.isEmpty ? "." : parent) ? "\(error.localizedDescription)" : "no permission to write in \(parent.isEmpty ? "." : parent)"))")
            }
        }
        guard FileManager.default.isWritableFile(atPath: directory) else {
            throw fail("the directory is not writable")
        }
    }

    /// Pretty-printed, key-sorted JSON, written atomically.
    static func writeJSON(_ object: [String: Any], to path: String) throws {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        try writeData(data + [10], to: path)
    }

    /// Writes `data` atomically (temporary file, fsync, rename), errors naming the path.
    public static func writeData(_ data: Data, to path: String) throws {
        try GGUFFileSink.writeAtomically(to: path) { sink in try sink.write([UInt8](data)) }
    }

    /// A packed ternary tensor (``TernaryGGUFLayout``) as row-major floats `[rows × columns]`
    /// and its logical GGUF dimensions `[columns, rows]`.
    static func unpackTernary(_ t: GGUFTensorInfo, file: GGUFFile, fail: (String) -> Error) throws -> ([Float], [Int]) {
        guard t.dimensions.count == 2, let scaleInfo = file.tensor(named: TernaryGGUFLayout.scaleName(forWeight: t.name)),
              scaleInfo.elementCount == 1, !scaleInfo.type.holdsIntegers else {
            throw fail("\(t.name): an I8 tensor must be a packed ternary projection with a one-element float .scale")
        }
        var scale: Float = 0
        RowKernels.dequantize(scaleInfo.type, file.data(for: scaleInfo), into: &scale, count: 1)
        let columns = t.dimensions[0], rows = 4 * t.dimensions[1]
        let matrix = BitLinearMatrix(rows: rows, columns: columns, base: file.data(for: t), weightScale: scale, scaleUse: .multiply)
        var values = [Float](repeating: 0, count: rows * columns)
        values.withUnsafeMutableBufferPointer { v in
            for r in 0..<rows { matrix.dequantizeRow(r, into: v.baseAddress! + r * columns) }
        }
        return (values, [columns, rows])
    }
}
