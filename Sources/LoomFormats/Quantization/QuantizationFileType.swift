import LoomKernels

/// A quantisation target for a whole model, as llama.cpp's `llama_ftype` (the value stored in
/// `general.file_type`): a base element type plus, for the K-quant mixes, rules that give
/// some tensors more bits (see ``TensorTypeChooser``).
public enum QuantizationFileType: UInt32, CaseIterable, Sendable, CustomStringConvertible {
    case allF32 = 0
    case mostlyF16 = 1
    case mostlyQ4_0 = 2
    case mostlyQ4_1 = 3
    case mostlyQ8_0 = 7
    case mostlyQ5_0 = 8
    case mostlyQ5_1 = 9
    case mostlyQ2_K = 10
    case mostlyQ3_K_S = 11
    case mostlyQ3_K_M = 12
    case mostlyQ3_K_L = 13
    case mostlyQ4_K_S = 14
    case mostlyQ4_K_M = 15
    case mostlyQ5_K_S = 16
    case mostlyQ5_K_M = 17
    case mostlyQ6_K = 18
    case mostlyQ2_K_S = 21
    /// Ternary TQ1_0 (llama.cpp's LLAMA_FTYPE_MOSTLY_TQ1_0).
    case mostlyTQ1_0 = 36
    /// Ternary TQ2_0 (LLAMA_FTYPE_MOSTLY_TQ2_0).
    case mostlyTQ2_0 = 37
    case mostlyBF16 = 32

    /// The type of every quantisable tensor before the mix rules (`llama_ftype_get_default_type`).
    public var defaultType: GGMLType {
        switch self {
        case .allF32: return .f32
        case .mostlyF16: return .f16
        case .mostlyBF16: return .bf16
        case .mostlyQ4_0: return .q4_0
        case .mostlyQ4_1: return .q4_1
        case .mostlyQ5_0: return .q5_0
        case .mostlyQ5_1: return .q5_1
        case .mostlyQ8_0: return .q8_0
        case .mostlyQ2_K, .mostlyQ2_K_S: return .q2_K
        case .mostlyQ3_K_S, .mostlyQ3_K_M, .mostlyQ3_K_L: return .q3_K
        case .mostlyQ4_K_S, .mostlyQ4_K_M: return .q4_K
        case .mostlyQ5_K_S, .mostlyQ5_K_M: return .q5_K
        case .mostlyQ6_K: return .q6_K
        case .mostlyTQ1_0: return .tq1_0
        case .mostlyTQ2_0: return .tq2_0
        }
    }

    /// The name `llama-quantize` uses (`Q4_K_M`, `Q8_0`, `F16`, …).
    public var description: String {
        switch self {
        case .allF32: return "F32"
        case .mostlyF16: return "F16"
        case .mostlyBF16: return "BF16"
        case .mostlyQ4_0: return "Q4_0"
        case .mostlyQ4_1: return "Q4_1"
        case .mostlyQ5_0: return "Q5_0"
        case .mostlyQ5_1: return "Q5_1"
        case .mostlyQ8_0: return "Q8_0"
        case .mostlyQ2_K: return "Q2_K"
        case .mostlyQ2_K_S: return "Q2_K_S"
        case .mostlyQ3_K_S: return "Q3_K_S"
        case .mostlyQ3_K_M: return "Q3_K_M"
        case .mostlyQ3_K_L: return "Q3_K_L"
        case .mostlyQ4_K_S: return "Q4_K_S"
        case .mostlyQ4_K_M: return "Q4_K_M"
        case .mostlyQ5_K_S: return "Q5_K_S"
        case .mostlyQ5_K_M: return "Q5_K_M"
        case .mostlyQ6_K: return "Q6_K"
        case .mostlyTQ1_0: return "TQ1_0"
        case .mostlyTQ2_0: return "TQ2_0"
        }
    }

    /// Parses a `llama-quantize` type name, case-insensitively; `Q3_K`, `Q4_K` and `Q5_K`
    /// mean the `_M` mixes, as in llama-quantize.
    public init?(name: String) {
        let n = name.uppercased()
        let aliases = ["Q3_K": "Q3_K_M", "Q4_K": "Q4_K_M", "Q5_K": "Q5_K_M"]
        let target = aliases[n] ?? n
        guard let match = Self.allCases.first(where: { $0.description == target }) else { return nil }
        self = match
    }

    /// All accepted names, for help and error messages.
    public static var names: [String] { allCases.map(\.description) + ["Q3_K", "Q4_K", "Q5_K"] }
}
