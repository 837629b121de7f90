import LoomJinja

/// A Hugging Face `rope_scaling` (or transformers 5 `rope_parameters`) entry, typed by its
/// `rope_type` / `type`. Values absent from the JSON are nil where transformers has a
/// computed default (transformers `src/transformers/modeling_rope_utils.py`).
public enum HFRopeScaling: Sendable, Equatable {
    /// Position interpolation: positions divided by `factor`.
    case linear(factor: Double)
    /// Dynamic NTK: base grows with sequence length beyond the original context.
    case dynamic(factor: Double, originalMaxPositionEmbeddings: Int?)
    /// YaRN.
    case yarn(factor: Double, originalMaxPositionEmbeddings: Int?, attentionFactor: Double?,
              betaFast: Double?, betaSlow: Double?, mscale: Double?, mscaleAllDim: Double?)
    /// Llama 3.1 frequency-dependent scaling.
    case llama3(factor: Double, lowFreqFactor: Double, highFreqFactor: Double, originalMaxPositionEmbeddings: Int)
    /// Phi-3 style LongRoPE: per-dimension factors for short and long contexts.
    case longrope(shortFactor: [Double], longFactor: [Double], factor: Double?, originalMaxPositionEmbeddings: Int?,
                  attentionFactor: Double?)

    /// The type string as written in config.json.
    public var typeName: String {
        switch self {
        case .linear: return "linear"
        case .dynamic: return "dynamic"
        case .yarn: return "yarn"
        case .llama3: return "llama3"
        case .longrope: return "longrope"
        }
    }

    /// The scaling factor (nil for longrope without a `factor`).
    public var factor: Double? {
        switch self {
        case .linear(let f), .dynamic(let f, _), .yarn(let f, _, _, _, _, _, _), .llama3(let f, _, _, _): return f
        case .longrope(_, _, let f, _, _): return f
        }
    }

    /// Parses one scaling object; `nil` for `rope_type: "default"` (no scaling).
    /// - Throws: ``HFConfigError`` naming `field.key` for an unknown type or a bad value.
    static func parse(_ object: JSONObject, field: String, path: String) throws -> HFRopeScaling? {
        let reader = HFJSONReader(object: object, path: path, prefix: field + ".")
        let type: String
        if let t = try reader.string("rope_type") ?? reader.string("type") {
            type = t
        } else {
            throw HFConfigError(path: path, field: field, reason: "has neither rope_type nor type")
        }
        switch type {
        case "default":
            return nil
        case "linear":
            return .linear(factor: try reader.positiveDouble("factor", required: true)!)
        case "dynamic":
            return .dynamic(factor: try reader.positiveDouble("factor", required: true)!,
                            originalMaxPositionEmbeddings: try reader.positiveInt("original_max_position_embeddings"))
        case "yarn":
            return .yarn(factor: try reader.positiveDouble("factor", required: true)!,
                         originalMaxPositionEmbeddings: try reader.positiveInt("original_max_position_embeddings"),
                         attentionFactor: try reader.positiveDouble("attention_factor"),
                         betaFast: try reader.double("beta_fast"), betaSlow: try reader.double("beta_slow"),
                         mscale: try reader.double("mscale"), mscaleAllDim: try reader.double("mscale_all_dim"))
        case "llama3":
            let low = try reader.positiveDouble("low_freq_factor", required: true)!
            let high = try reader.positiveDouble("high_freq_factor", required: true)!
            guard high > low else {
                throw HFConfigError(path: path, field: field + ".high_freq_factor", reason: "\(high) must exceed low_freq_factor \(low)")
            }
            return .llama3(factor: try reader.positiveDouble("factor", required: true)!, lowFreqFactor: low, highFreqFactor: high,
                           originalMaxPositionEmbeddings: try reader.positiveInt("original_max_position_embeddings", required: true)!)
        case "longrope", "su":
            return .longrope(shortFactor: try reader.doubles("short_factor", required: true)!,
                             longFactor: try reader.doubles("long_factor", required: true)!,
                             factor: try reader.positiveDouble("factor"),
                             originalMaxPositionEmbeddings: try reader.positiveInt("original_max_position_embeddings"),
                             attentionFactor: try reader.positiveDouble("attention_factor"))
        default:
            throw HFConfigError(path: path, field: field + ".rope_type",
                                reason: "unknown RoPE scaling type '\(type)' (known: default, linear, dynamic, yarn, llama3, longrope)")
        }
    }
}
