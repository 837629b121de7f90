/// A ggml tensor element type, as stored in GGUF files (`ggml_type` in ggml.h).
///
/// Only the types Loom can compute with are cases; any other id read from a file is
/// reported by the reader as an unsupported type, naming the tensor.
public enum GGMLType: UInt32, CaseIterable, Sendable, CustomStringConvertible {
    case f32 = 0
    case f16 = 1
    case q4_0 = 2
    case q4_1 = 3
    case q5_0 = 6
    case q5_1 = 7
    case q8_0 = 8
    case q2_K = 10
    case q3_K = 11
    case q4_K = 12
    case q5_K = 13
    case q6_K = 14
    /// Signed bytes (ggml's GGML_TYPE_I8). Loom stores its packed ternary projections in it
    /// (``TernaryPacking``): integers, not quantised reals, so there is no quantiser for it.
    case i8 = 24
    case bf16 = 30
    /// Ternary {−1, 0, +1}·d, five per byte in base 3 (llama.cpp's TQ1_0, 1.69 bpw).
    case tq1_0 = 34
    /// Ternary {−1, 0, +1}·d, four 2-bit codes per byte (llama.cpp's TQ2_0, 2.06 bpw).
    case tq2_0 = 35

    /// Elements per quantisation block (1 for plain float types).
    public var blockSize: Int {
        switch self {
        case .f32, .f16, .bf16, .i8: return 1
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0: return 32
        case .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .tq1_0, .tq2_0: return 256
        }
    }

    /// Bytes per block.
    public var blockBytes: Int {
        switch self {
        case .f32: return 4
        case .f16, .bf16: return 2
        case .i8: return 1
        case .q4_0: return 18
        case .q4_1: return 20
        case .q5_0: return 22
        case .q5_1: return 24
        case .q8_0: return 34
        case .q2_K: return 84
        case .q3_K: return 110
        case .q4_K: return 144
        case .q5_K: return 176
        case .q6_K: return 210
        case .tq1_0: return 54
        case .tq2_0: return 66
        }
    }

    /// Bytes taken by `count` elements; `count` must be a multiple of `blockSize`.
    @inlinable public func byteCount(elements count: Int) -> Int {
        count / blockSize * blockBytes
    }

    /// The name llama.cpp uses (`Q4_K`, `F16`, …).
    public var description: String {
        switch self {
        case .f32: return "F32"
        case .f16: return "F16"
        case .bf16: return "BF16"
        case .q4_0: return "Q4_0"
        case .q4_1: return "Q4_1"
        case .q5_0: return "Q5_0"
        case .q5_1: return "Q5_1"
        case .q8_0: return "Q8_0"
        case .q2_K: return "Q2_K"
        case .q3_K: return "Q3_K"
        case .q4_K: return "Q4_K"
        case .q5_K: return "Q5_K"
        case .q6_K: return "Q6_K"
        case .i8: return "I8"
        case .tq1_0: return "TQ1_0"
        case .tq2_0: return "TQ2_0"
        }
    }

    /// Whether the type holds integers rather than (quantised) real numbers: ``i8``. Such
    /// tensors are read as integers and never quantised to or from.
    public var holdsIntegers: Bool { self == .i8 }

    /// Bits per weight including block scales.
    public var bitsPerWeight: Double { Double(blockBytes * 8) / Double(blockSize) }
}
