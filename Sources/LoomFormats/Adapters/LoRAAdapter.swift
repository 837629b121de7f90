import Foundation

/// A LoRA adapter in a format-neutral form: for each adapted base tensor (by its GGUF name,
/// e.g. `blk.3.attn_q.weight`), the two low-rank factors and the scale, so that the adapted
/// projection is `y = W·x + scale·B·(A·x)` (PEFT `LoraLayer.forward`, llama.cpp
/// `llm_build_lora_mm`). Read from a PEFT directory (``PEFTAdapterReader``) or a llama.cpp GGUF
/// LoRA file (``GGUFLoRAReader``); applied by LoomModels, merged or converted by the writers.
public struct LoRAAdapter: Sendable {
    /// Which row order the Q/K factors are in. llama.cpp's converter permutes llama Q/K rows for
    /// its interleaved RoPE (`convert_hf_to_gguf.py` `LlamaModel.permute`) and does the same to
    /// `lora_b` (`convert_lora_to_gguf.py`); PEFT adapters are in Hugging Face order.
    public enum WeightSpace: String, Sendable {
        case huggingFace
        case gguf
    }

    /// One adapted projection.
    public struct Module: Sendable {
        /// Rank r: rows of A, columns of B.
        public let rank: Int
        /// Input features of the base projection (columns of A).
        public let inputs: Int
        /// Output features of the base projection (rows of B).
        public let outputs: Int
        /// `[rank × inputs]`, row-major (PyTorch `lora_A.weight`).
        public var a: [Float]
        /// `[outputs × rank]`, row-major (PyTorch `lora_B.weight`).
        public var b: [Float]
        /// The adapter's own scale: `lora_alpha / r` (`/ √r` for rsLoRA), per module when
        /// `rank_pattern`/`alpha_pattern` say so; 1 for a GGUF LoRA without alpha.
        public var scale: Float
        /// DoRA's magnitude `m` (`lora_magnitude_vector`, `[outputs]`), nil for plain LoRA.
        public var magnitude: [Float]?

        public init(rank: Int, inputs: Int, outputs: Int, a: [Float], b: [Float], scale: Float, magnitude: [Float]? = nil) {
            precondition(a.count == rank * inputs && b.count == outputs * rank)
            precondition(magnitude == nil || magnitude!.count == outputs)
            self.rank = rank
            self.inputs = inputs
            self.outputs = outputs
            self.a = a
            self.b = b
            self.scale = scale
            self.magnitude = magnitude
        }

        /// `scale·B·A`, `[outputs × inputs]`: what a merge adds to the base weight.
        public func delta() -> [Float] {
            var out = [Float](repeating: 0, count: outputs * inputs)
            for o in 0..<outputs {
                for j in 0..<rank {
                    let s = scale * b[o * rank + j]
                    if s == 0 { continue }
                    let aRow = j * inputs, outRow = o * inputs
                    for i in 0..<inputs { out[outRow + i] += s * a[aRow + i] }
                }
            }
            return out
        }
    }

    /// Where it was read from (for messages and listings).
    public let path: String
    /// The base architecture's GGUF name when the file says (`general.architecture` of a GGUF
    /// LoRA); PEFT directories do not record it reliably.
    public let architecture: String?
    public let space: WeightSpace
    /// Adapted projections by GGUF base tensor name.
    public var modules: [String: Module]
    /// RMSNorm weights that replace the base's, by GGUF tensor name (`blk.N.attn_norm.weight`,
    /// `blk.N.ffn_norm.weight`, `output_norm.weight`): PEFT `modules_to_save` on the norms
    /// (`loom finetune --train-norms`). They are whole weights, not deltas, so an adapter's
    /// scale does not apply to them (as in PEFT, where `scaling` touches only the LoRA path).
    public var norms: [String: [Float]]

    public init(path: String, architecture: String?, space: WeightSpace, modules: [String: Module],
                norms: [String: [Float]] = [:]) {
        self.path = path
        self.architecture = architecture
        self.space = space
        self.modules = modules
        self.norms = norms
    }

    /// Whether a GGUF tensor name is one of a decoder's RMSNorm weights that ``norms`` may replace.
    public static func isNormTensor(_ name: String) -> Bool {
        name == "output_norm.weight" || (name.hasPrefix("blk.") && (name.hasSuffix(".attn_norm.weight") || name.hasSuffix(".ffn_norm.weight")))
    }

    /// Whether any module is DoRA.
    public var usesDoRA: Bool { modules.values.contains { $0.magnitude != nil } }

    /// Reads a PEFT directory (or its `adapter_config.json` / `adapter_model.safetensors`)
    /// or a GGUF LoRA file, by what `path` is. `naming` maps the base architecture's Hugging
    /// Face module names to GGUF names.
    public static func load(path: String, naming: HFTensorNaming) throws -> LoRAAdapter {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw LoRAAdapterError(path: path, reason: "no such file or directory")
        }
        if isDirectory.boolValue {
            return try PEFTAdapterReader.read(directory: path, naming: naming)
        }
        let name = (path as NSString).lastPathComponent
        if name == "adapter_config.json" || name.hasSuffix(".safetensors") {
            return try PEFTAdapterReader.read(directory: (path as NSString).deletingLastPathComponent, naming: naming)
        }
        if name.hasSuffix(".bin") || name.hasSuffix(".pt") || name.hasSuffix(".pth") {
            throw LoRAAdapterError(path: path, reason: "PyTorch pickle adapters are not read (they can run code when loaded); save the adapter as safetensors (PEFT `save_pretrained(..., safe_serialization=True)`)")
        }
        return try GGUFLoRAReader.read(path: path)
    }
}

/// A LoRA adapter file that cannot be used, naming the file and, where known, the tensor or
/// config field.
public struct LoRAAdapterError: Error, CustomStringConvertible, Equatable {
    public let path: String
    public let field: String?
    public let reason: String

    public init(path: String, field: String? = nil, reason: String) {
        self.path = path
        self.field = field
        self.reason = reason
    }

    public var description: String { "\(path):" + (field.map { " \($0):" } ?? "") + " " + reason }
}
