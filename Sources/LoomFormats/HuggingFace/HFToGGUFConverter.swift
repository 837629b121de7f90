import Foundation
import LoomKernels

/// Converts a Hugging Face directory of any ``ArchitectureRegistry`` architecture (config.json,
/// safetensors, optionally tokenizer.json + tokenizer_config.json) into a GGUF file the way
/// llama.cpp's `convert_hf_to_gguf.py` does: GGUF tensor names, Q/K rows permuted where the
/// architecture says (``Architecture/permutesQK``),
/// 1-D tensors (norms, biases) in F32, matrices in the output type (Q8_0 falling back to F16
/// for rows that are not whole blocks, bytes identical to gguf-py's quantiser), the model
/// hyper-parameters as `<arch>.*` keys and, for Llama 3.1 style `llama3` RoPE scaling, the
/// `rope_freqs` tensor.
///
/// ```swift
/// var converter = HFToGGUFConverter(outputType: .f16)
/// try converter.convert(directory: "/models/my-llama", output: "my-llama-f16.gguf")
/// ```
public struct HFToGGUFConverter {
    /// The output type for matrices: F32, F16, BF16 or Q8_0.
    public var outputType: GGMLType
    /// `tokenizer.ggml.pre` to write; nil picks one from the architecture and vocabulary size.
    public var preTokenizer: String?

    public init(outputType: GGMLType, preTokenizer: String? = nil) {
        self.outputType = outputType
        self.preTokenizer = preTokenizer
    }

    /// `general.file_type` for the output type (llama_ftype).
    static func fileType(_ t: GGMLType) -> UInt32 {
        switch t {
        case .f32: return 0
        case .f16: return 1
        case .bf16: return 32
        case .q8_0: return 7
        case .tq1_0: return 36
        case .tq2_0: return 37
        default: return 1
        }
    }

    /// Converts `directory` to `output` (written atomically). Returns the number of tensors.
    @discardableResult
    public func convert(directory: String, output: String, name: String? = nil) throws -> Int {
        guard [.f32, .f16, .bf16, .q8_0, .tq1_0, .tq2_0].contains(outputType) else {
            throw HFConfigError(path: output, field: nil, reason: "output type \(outputType) is not one of F32, F16, BF16, Q8_0, TQ1_0, TQ2_0")
        }
        let config = try HFModelConfig(path: (directory as NSString).appendingPathComponent("config.json"))
        let ternaryOutput = outputType == .tq1_0 || outputType == .tq2_0
        if ternaryOutput && config.bitNet == nil {
            throw HFConfigError(path: directory, field: "quantization_config", reason: "\(outputType) output needs an HF BitNet checkpoint (quant_method: bitnet, packed ternary weights)")
        }
        let weights = try SafetensorsCheckpoint(directory: directory)
        let architecture = config.architecture
        let arch = architecture.ggufWriteName
        var w = GGUFWriter()
        w.setMetadata("general.architecture", .string(arch))
        w.setMetadata("general.type", .string("model"))
        w.setMetadata("general.name", .string(name ?? (directory as NSString).lastPathComponent))
        w.setMetadata("\(arch).block_count", .uint32(UInt32(config.numHiddenLayers)))
        w.setMetadata("\(arch).context_length", .uint32(UInt32(config.maxPositionEmbeddings)))
        w.setMetadata("\(arch).embedding_length", .uint32(UInt32(config.hiddenSize)))
        w.setMetadata("\(arch).feed_forward_length", .uint32(UInt32(config.intermediateSize)))
        w.setMetadata("\(arch).attention.head_count", .uint32(UInt32(config.numAttentionHeads)))
        w.setMetadata("\(arch).attention.head_count_kv", .uint32(UInt32(config.numKeyValueHeads)))
        w.setMetadata("\(arch).rope.freq_base", .float32(Float(config.ropeTheta)))
        w.setMetadata("\(arch).attention.layer_norm_rms_epsilon", .float32(Float(config.rmsNormEps)))
        if architecture.feedForwardActivation != .silu {
            // llama.cpp LLM_KV_HIDDEN_ACT; without it llama.cpp's bitnet graph falls back to SiLU.
            w.setMetadata("\(arch).hidden_activation", .string(architecture.feedForwardActivation.rawValue))
        }
        if let window = config.slidingWindow {
            w.setMetadata("\(arch).attention.sliding_window", .uint32(UInt32(window)))
        }
        if config.headDim != config.hiddenSize / config.numAttentionHeads {
            w.setMetadata("\(arch).attention.key_length", .uint32(UInt32(config.headDim)))
            w.setMetadata("\(arch).attention.value_length", .uint32(UInt32(config.headDim)))
        }
        w.setMetadata("\(arch).rope.dimension_count", .uint32(UInt32(config.ropeDimensions)))
        w.setMetadata("\(arch).vocab_size", .uint32(UInt32(config.vocabSize)))
        w.setMetadata("general.file_type", .uint32(Self.fileType(outputType)))
        if outputType == .q8_0 { w.setMetadata("general.quantization_version", .uint32(2)) }
        switch config.ropeScaling {
        case .linear(let factor)?:
            w.setMetadata("\(arch).rope.scaling.type", .string("linear"))
            w.setMetadata("\(arch).rope.scaling.factor", .float32(Float(factor)))
        case .yarn(let factor, let original, let attention, _, _, _, _)?:
            w.setMetadata("\(arch).rope.scaling.type", .string("yarn"))
            w.setMetadata("\(arch).rope.scaling.factor", .float32(Float(factor)))
            w.setMetadata("\(arch).rope.scaling.original_context_length", .uint32(UInt32(original ?? config.maxPositionEmbeddings)))
            if let attention { w.setMetadata("\(arch).rope.scaling.attn_factor", .float32(Float(attention))) }
        case .dynamic?:
            // llama.cpp has no dynamic NTK; a GGUF without it would silently run unscaled.
            throw HFConfigError(path: directory, field: "rope_scaling.rope_type",
                                reason: "dynamic NTK RoPE scaling has no GGUF form (llama.cpp does not implement it); run the HF directory")
        case let .longrope(_, _, factor, original, attention)?:
            // convert_hf_to_gguf.py Phi3MiniModel: the original context, the cos/sin factor and
            // (below) the two factor tensors.
            let originalContext = original ?? config.originalMaxPositionEmbeddings ?? config.maxPositionEmbeddings
            let ratio = factor ?? Double(config.maxPositionEmbeddings) / Double(originalContext)
            let attentionFactor = attention ?? (ratio <= 1 ? 1 : (1 + log(ratio) / log(Double(originalContext))).squareRoot())
            w.setMetadata("\(arch).rope.scaling.original_context_length", .uint32(UInt32(originalContext)))
            w.setMetadata("\(arch).rope.scaling.attn_factor", .float32(Float(attentionFactor)))
        case .llama3?, nil:
            break
        }
        try addTokenizer(&w, directory: directory, config: config)

        var count = 0
        for hfName in weights.tensorNames {
            guard let ggufName = architecture.tensorNames.ggufName(forHF: hfName) else { continue }
            if ggufName == "output.weight" && config.tieWordEmbeddings { continue }
            let (file, info) = weights.tensor(named: hfName)!
            // A packed BitNet linear: written unpacked as ternary × scale (convert_hf_to_gguf's
            // BitnetModel does the same), so any output type holds the same product.
            let packed = try config.bitNet.flatMap { q in try BitNetUnpacker(weights: weights, name: hfName, info: info, linearClass: q.linearClass, path: file.path) }
            let shape = packed.map { [$0.rows, $0.columns] } ?? info.shape
            var permuteHeads: Int?
            if architecture.permutesQK, let heads = ggufName.contains("attn_q.") ? config.numAttentionHeads
                : ggufName.contains("attn_k.") ? config.numKeyValueHeads : nil {
                let rows = shape.first ?? 1
                guard rows % (2 * heads) == 0 else {
                    throw HFConfigError(path: file.path, field: hfName, reason: "\(rows) rows cannot be split into \(heads) heads of RoPE pairs")
                }
                permuteHeads = heads
            }
            let dims = Array(shape.reversed())
            var type: GGMLType = dims.count >= 2 ? outputType : .f32
            if ternaryOutput {
                // TQ blocks hold ternary rows exactly when they are whole blocks (d = the scale);
                // other ternary rows are packed below (still exact), every other matrix is F16.
                type = packed == nil ? (dims.count >= 2 ? .f16 : .f32) : RowQuantizer.canQuantize(outputType, count: dims[0]) ? outputType : .f32
            }
            if !RowQuantizer.canQuantize(type, count: dims.first ?? 1) { type = .f16 }
            if ternaryOutput, let packed, type == .f32, packed.rows % 4 == 0 {
                // Ternary rows TQ blocks cannot hold: Loom's packed 2-bit layout, also exact.
                try TernaryGGUFLayout.addPacked(to: &w, name: ggufName, rows: packed.rows, columns: packed.columns) {
                    let values = try packed.floats()
                    return permuteHeads.map { HFTensorNaming.permuteForGGUF(values, rows: packed.rows, heads: $0) } ?? values
                }
                count += 2
                continue
            }
            // Read, permute and convert when the writer streams this tensor (one in memory at a time).
            try w.addTensor(name: ggufName, type: type, dimensions: dims.isEmpty ? [1] : dims) { [type] in
                var values = try packed.map { try $0.floats() } ?? file.floats(info)
                if let heads = permuteHeads { values = HFTensorNaming.permuteForGGUF(values, rows: shape.first ?? 1, heads: heads) }
                return RowQuantizer.quantize(type, values)
            }
            count += 1
        }
        if case .llama3(let factor, let low, let high, let original)? = config.ropeScaling {
            let factors = Self.llama3RopeFactors(base: config.ropeTheta, dim: config.headDim, factor: factor,
                                                 lowFreqFactor: low, highFreqFactor: high, originalContext: original)
            try w.addTensor(name: "rope_freqs.weight", type: .f32, dimensions: [factors.count], data: RowQuantizer.quantize(.f32, factors))
            count += 1
        }
        if case let .longrope(short, long, _, _, _)? = config.ropeScaling {
            for (name, factors) in [("rope_factors_long.weight", long), ("rope_factors_short.weight", short)] {
                let values = factors.map { Float($0) }
                try w.addTensor(name: name, type: .f32, dimensions: [values.count], data: RowQuantizer.quantize(.f32, values))
                count += 1
            }
        }
        try w.write(to: output)
        return count
    }

    /// convert_hf_to_gguf's Llama 3.1 `rope_freqs`: per RoPE pair, the divisor of its
    /// frequency — 1 for short wavelengths, `factor` for long ones, smooth in between.
    public static func llama3RopeFactors(base: Double, dim: Int, factor: Double, lowFreqFactor: Double,
                                         highFreqFactor: Double, originalContext: Int) -> [Float] {
        let lowWavelen = Double(originalContext) / lowFreqFactor
        let highWavelen = Double(originalContext) / highFreqFactor
        return stride(from: 0, to: dim, by: 2).map { i in
            // torch computes the frequencies in float32.
            let freq = Double(1 / powf(Float(base), Float(i) / Float(dim)))
            let wavelen = 2 * Double.pi / freq
            if wavelen < highWavelen { return 1 }
            if wavelen > lowWavelen { return Float(factor) }
            let smooth = (Double(originalContext) / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor)
            return Float(1 / ((1 - smooth) / factor + smooth))
        }
    }

    func addTokenizer(_ w: inout GGUFWriter, directory: String, config: HFModelConfig) throws {
        guard FileManager.default.fileExists(atPath: (directory as NSString).appendingPathComponent("tokenizer.json")) else { return }
        let t = try HFTokenizerMetadata(directory: directory)
        w.setMetadata("tokenizer.ggml.model", .string("gpt2"))
        let pre = preTokenizer ?? config.architecture.defaultPreTokenizer(config.vocabSize)
        w.setMetadata("tokenizer.ggml.pre", .string(pre))
        w.setMetadata("tokenizer.ggml.tokens", .array(t.tokens.map { .string($0) }))
        w.setMetadata("tokenizer.ggml.token_type", .array(t.tokenTypes.map { .int32($0) }))
        w.setMetadata("tokenizer.ggml.merges", .array(t.merges.map { .string($0) }))
        if let id = t.bosTokenId ?? config.bosTokenId { w.setMetadata("tokenizer.ggml.bos_token_id", .uint32(UInt32(id))) }
        if let id = t.eosTokenId ?? config.eosTokenIds.first { w.setMetadata("tokenizer.ggml.eos_token_id", .uint32(UInt32(id))) }
        if let id = t.padTokenId { w.setMetadata("tokenizer.ggml.padding_token_id", .uint32(UInt32(id))) }
        if let add = t.addBOS { w.setMetadata("tokenizer.ggml.add_bos_token", .bool(add)) }
        if let template = t.chatTemplate { w.setMetadata("tokenizer.chat_template", .string(template)) }
    }
}
