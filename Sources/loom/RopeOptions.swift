import ArgumentParser
import LoomModels

/// RoPE flags every model-loading command shares, named as llama.cpp's (`common/arg.cpp`) so
/// that a llama.cpp command line carries over.
struct RopeOptions: ParsableArguments {
    @Option(name: [.customLong("rope-theta"), .customLong("rope-freq-base")], parsing: .unconditional,
            help: "RoPE base frequency θ, replacing the model's (the Gradient recipe raises it for long context).")
    var ropeTheta: Double?

    @Option(name: .customLong("rope-scaling"),
            help: "RoPE scaling, replacing the model's: none, linear, yarn, dynamic (NTK, as transformers), llama3, longrope (the model's own factors only).")
    var ropeScaling: String?

    @Option(name: .customLong("rope-scale"), parsing: .unconditional,
            help: "Context extension factor F ≥ 1. Alone: the model's own YaRN/dynamic scaling with F, else positions divided by F.")
    var ropeScale: Double?

    @Option(name: .customLong("rope-freq-scale"), parsing: .unconditional, help: "1/F, as llama.cpp: frequencies multiplied by it (0 < S ≤ 1).")
    var ropeFreqScale: Double?

    @Option(name: .customLong("yarn-orig-ctx"), parsing: .unconditional,
            help: "Context the model was trained with, for yarn, dynamic and llama3 scaling (default: the model's).")
    var yarnOrigCtx: Int?

    @Option(name: .customLong("yarn-ext-factor"), parsing: .unconditional, help: "YaRN extrapolation mix, 0…1 (default 1).")
    var yarnExtFactor: Double?

    @Option(name: .customLong("yarn-attn-factor"), parsing: .unconditional, help: "YaRN magnitude multiplier (default: the model's, else 1).")
    var yarnAttnFactor: Double?

    @Option(name: .customLong("yarn-beta-fast"), parsing: .unconditional, help: "YaRN high-frequency correction, in rotations (default 32).")
    var yarnBetaFast: Double?

    @Option(name: .customLong("yarn-beta-slow"), parsing: .unconditional, help: "YaRN low-frequency correction, in rotations (default 1).")
    var yarnBetaSlow: Double?

    func validate() throws {
        if ropeScale != nil && ropeFreqScale != nil {
            throw ValidationError("--rope-scale and --rope-freq-scale set the same factor (F and 1/F); give one")
        }
        if let s = ropeFreqScale, !(s > 0 && s <= 1) {
            throw ValidationError("--rope-freq-scale must be in (0, 1] (it is 1/F for a context extended F times), got \(s)")
        }
        if let name = ropeScaling, RopeOverrides.Scaling(rawValue: name) == nil {
            throw ValidationError("unknown --rope-scaling '\(name)' (known: \(RopeOverrides.Scaling.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
    }

    /// The overrides these flags ask for.
    var overrides: RopeOverrides {
        RopeOverrides(base: ropeTheta, linearFactor: ropeScale ?? ropeFreqScale.map { 1 / $0 },
                      scaling: ropeScaling.flatMap(RopeOverrides.Scaling.init(rawValue:)), originalContext: yarnOrigCtx,
                      yarnExtrapolationFactor: yarnExtFactor, yarnAttentionFactor: yarnAttnFactor,
                      yarnBetaFast: yarnBetaFast, yarnBetaSlow: yarnBetaSlow)
    }
}
