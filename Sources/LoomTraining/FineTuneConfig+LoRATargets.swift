import Foundation

extension FineTuneConfig {
    /// Which linear projections of each selected layer get a LoRA adapter (`--target`).
    ///
    /// The names are PEFT's / Hugging Face's module names for llama and qwen2 decoders;
    /// `all-linear` is PEFT's shorthand (every linear layer but the LM head), which
    /// LLaMA-Factory spells `lora_target: all`.
    public enum LoRATargets: Sendable, Equatable, CustomStringConvertible {
        case allLinear
        /// Named projections, in the order given, each once.
        case modules([String])

        /// The projections of a llama/qwen2 decoder layer, in the order of the layer.
        public static let decoderModules = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]

        /// Parses `all-linear` (also `all`) or a comma-separated list of module names.
        /// - Throws: ``TrainingError/invalidParameter(_:)`` naming an unknown or repeated module.
        public init(parsing spec: String) throws {
            let trimmed = spec.trimmingCharacters(in: .whitespaces)
            if trimmed == "all-linear" || trimmed == "all" {
                self = .allLinear
                return
            }
            var names: [String] = []
            for raw in trimmed.split(separator: ",", omittingEmptySubsequences: false) {
                let name = raw.trimmingCharacters(in: .whitespaces)
                guard Self.decoderModules.contains(name) else {
                    throw TrainingError.invalidParameter(
                        "--target: \"\(name)\" is not a decoder projection (use all-linear or some of \(Self.decoderModules.joined(separator: ",")))")
                }
                guard !names.contains(name) else {
                    throw TrainingError.invalidParameter("--target: \(name) is listed twice")
                }
                names.append(name)
            }
            self = .modules(names)
        }

        /// The module names this selects.
        public var moduleNames: [String] {
            switch self {
            case .allLinear: return Self.decoderModules
            case .modules(let names): return names
            }
        }

        /// `all-linear` or the comma-separated names.
        public var description: String {
            switch self {
            case .allLinear: return "all-linear"
            case .modules(let names): return names.joined(separator: ",")
            }
        }
    }
}
