import Foundation
import LoomFormats

/// User overrides of a model's RoPE settings, for running past the trained context (the
/// Gradient card's θ of 10⁷…10¹⁰⁺, YaRN, dynamic NTK, Llama 3.1-style scaling) or testing
/// long-context recipes. The flags follow llama.cpp's (`common/arg.cpp`: `--rope-scaling`,
/// `--rope-scale`, `--rope-freq-base`, `--rope-freq-scale`, `--yarn-*`).
///
/// Without `scaling`, a `factor` keeps the model's own kind of scaling with that factor (a
/// YaRN or dynamic-NTK model), or else divides positions by it on top of whatever per-pair
/// factors the model has (llama.cpp's `freq_scale`). With `scaling`, the model's scaling is
/// replaced.
public struct RopeOverrides: Sendable, Equatable {
    /// The scaling kinds `--rope-scaling` takes.
    public enum Scaling: String, Sendable, CaseIterable {
        /// Plain RoPE (`none`): drops the model's scaling, Llama 3.1 factors included. Not
        /// named `none`, which would read as `Optional.none` where a `Scaling?` is expected.
        case plain = "none"
        /// Positions divided by the factor (position interpolation).
        case linear
        /// YaRN (Peng et al. 2023), as transformers computes it.
        case yarn
        /// Dynamic NTK: θ grows with the sequence past the original context (transformers).
        case dynamic
        /// Llama 3.1's frequency-dependent factors (low 1, high 4, as Meta's 3.1 configs).
        case llama3
        /// Phi-3's LongRoPE: only from the model's own factors (it cannot be made up).
        case longrope
    }

    /// RoPE base frequency θ (replaces the model's `rope.freq_base` / `rope_theta`).
    public var base: Double?
    /// Context extension factor F ≥ 1 (`--rope-scale`; `--rope-freq-scale` is 1/F).
    public var linearFactor: Double?
    /// Replacement scaling kind, nil to keep the model's.
    public var scaling: Scaling?
    /// The context the scaling extends (`--yarn-orig-ctx`; YaRN, dynamic NTK and llama3).
    public var originalContext: Int?
    /// YaRN extrapolation mix (`--yarn-ext-factor`, 0…1; 1 is YaRN as published).
    public var yarnExtrapolationFactor: Double?
    /// YaRN magnitude multiplier (`--yarn-attn-factor`): cos/sin × it × (1 + 0.1·ln F), as
    /// llama.cpp's `rope_yarn` does.
    public var yarnAttentionFactor: Double?
    public var yarnBetaFast: Double?
    public var yarnBetaSlow: Double?

    public init(base: Double? = nil, linearFactor: Double? = nil, scaling: Scaling? = nil, originalContext: Int? = nil,
                yarnExtrapolationFactor: Double? = nil, yarnAttentionFactor: Double? = nil,
                yarnBetaFast: Double? = nil, yarnBetaSlow: Double? = nil) {
        self.base = base
        self.linearFactor = linearFactor
        self.scaling = scaling
        self.originalContext = originalContext
        self.yarnExtrapolationFactor = yarnExtrapolationFactor
        self.yarnAttentionFactor = yarnAttentionFactor
        self.yarnBetaFast = yarnBetaFast
        self.yarnBetaSlow = yarnBetaSlow
    }

    /// Whether any override is set.
    public var isEmpty: Bool { self == RopeOverrides() }

    private var setsYarnOnlyValues: Bool {
        yarnExtrapolationFactor != nil || yarnAttentionFactor != nil || yarnBetaFast != nil || yarnBetaSlow != nil
    }

    /// Checks the values are usable on their own (``apply(to:path:)`` checks them against the model).
    /// - Throws: ``ModelError/invalidMetadata(key:reason:path:)`` naming the flag.
    public func validate(path: String) throws {
        func fail(_ flag: String, _ reason: String) -> ModelError { .invalidMetadata(key: flag, reason: reason, path: path) }
        if let base, !(base.isFinite && base > 1) { throw fail("--rope-theta", "\(base) must be a finite number above 1") }
        if let linearFactor, !(linearFactor.isFinite && linearFactor >= 1) {
            throw fail("--rope-scale", "\(linearFactor) must be a finite factor ≥ 1")
        }
        if let originalContext, originalContext < 2 { throw fail("--yarn-orig-ctx", "\(originalContext) must be at least 2") }
        if let e = yarnExtrapolationFactor, !(e >= 0 && e <= 1) { throw fail("--yarn-ext-factor", "\(e) must be between 0 and 1") }
        if let a = yarnAttentionFactor, !(a.isFinite && a > 0) { throw fail("--yarn-attn-factor", "\(a) must be a positive number") }
        for (flag, beta) in [("--yarn-beta-fast", yarnBetaFast), ("--yarn-beta-slow", yarnBetaSlow)] {
            if let beta, !(beta.isFinite && beta > 0) { throw fail(flag, "\(beta) must be a positive number") }
        }
        if let fast = yarnBetaFast, let slow = yarnBetaSlow, fast <= slow {
            throw fail("--yarn-beta-fast", "\(fast) must exceed --yarn-beta-slow \(slow) (fast rotations are the high-frequency end)")
        }
        if scaling == .plain, linearFactor != nil {
            throw fail("--rope-scaling", "none conflicts with --rope-scale/--rope-freq-scale")
        }
    }

    /// Applies the overrides to `config`, naming the flag of any conflict with the model.
    func apply(to config: inout ModelConfig, path: String) throws {
        func fail(_ flag: String, _ reason: String) -> ModelError { .invalidMetadata(key: flag, reason: reason, path: path) }
        if let base { config.ropeBase = base }
        let kind = scaling ?? implicitScaling(of: config)
        if setsYarnOnlyValues && kind != .yarn {
            throw fail("--yarn-*", "--yarn-ext-factor/--yarn-attn-factor/--yarn-beta-fast/--yarn-beta-slow apply to YaRN only; "
                       + "this run uses \(kind.map(\.rawValue) ?? "the model's own") RoPE scaling (add --rope-scaling yarn)")
        }
        if originalContext != nil && ![.yarn, .dynamic, .llama3].contains(kind) {
            throw fail("--yarn-orig-ctx", "applies to yarn, dynamic and llama3 scaling; this run uses \(kind.map(\.rawValue) ?? "the model's own")")
        }
        guard let kind else { return }
        func requiredFactor(_ modelFactor: Double? = nil) throws -> Double {
            guard let f = linearFactor ?? modelFactor else {
                throw fail("--rope-scale", "--rope-scaling \(kind.rawValue) needs a factor (--rope-scale F or --rope-freq-scale 1/F)")
            }
            return f
        }
        switch kind {
        case .plain:
            config.ropePositionScale = 1
            config.ropeYarn = nil
            config.ropeDynamic = nil
            config.ropePairFactors = .dropped
        case .linear:
            let factor = try requiredFactor()
            if scaling == nil {
                // Implicit: on top of the model's per-pair factors, as llama.cpp's freq_scale.
                config.ropePositionScale = 1 / factor
            } else {
                config = Self.cleared(config)
                config.ropePositionScale = 1 / factor
            }
        case .yarn:
            let model = config.ropeYarn
            let factor = try requiredFactor(model?.factor)
            let extrapolation = yarnExtrapolationFactor ?? model?.extrapolationFactor ?? 1
            // llama.cpp rope_yarn: cos/sin × attn_factor, times 1 + 0.1·ln F unless ext_factor is 0.
            let ramped = extrapolation == 0 || factor <= 1 ? 1 : 0.1 * log(factor) + 1
            let magnitude = yarnAttentionFactor.map { $0 * ramped } ?? (extrapolation == 0 ? 1 : nil)
            let yarn = YarnScaling(factor: factor, originalContext: originalContext ?? model?.originalContext ?? config.contextLength,
                                   attentionFactor: magnitude ?? (linearFactor == nil ? model?.attentionFactor : nil),
                                   betaFast: yarnBetaFast ?? model?.betaFast, betaSlow: yarnBetaSlow ?? model?.betaSlow,
                                   extrapolationFactor: extrapolation)
            config = Self.cleared(config)
            config.ropeYarn = yarn
        case .dynamic:
            var modelFactor: Double?, modelContext: Int?
            if case let .ntk(f, trained)? = config.ropeDynamic { modelFactor = f; modelContext = trained }
            let factor = try requiredFactor(modelFactor)
            let trained = originalContext ?? modelContext ?? config.contextLength
            config = Self.cleared(config)
            config.ropeDynamic = .ntk(factor: factor, trainedContext: trained)
        case .llama3:
            let factor = try requiredFactor()
            let factors = HFToGGUFConverter.llama3RopeFactors(
                base: config.ropeBase, dim: config.ropeDimensions, factor: factor, lowFreqFactor: 1, highFreqFactor: 4,
                originalContext: originalContext ?? config.contextLength)
            config = Self.cleared(config)
            config.ropePairFactors = .custom(factors)
        case .longrope:
            guard case .longrope? = config.ropeDynamic else {
                throw fail("--rope-scaling", "longrope needs the model's own per-pair factors (a Phi-3 LongRoPE config); this model has none")
            }
            if linearFactor != nil { throw fail("--rope-scale", "LongRoPE's factors come from the model; a factor cannot be set") }
        }
    }

    /// The scaling a bare factor keeps: the model's YaRN or dynamic NTK, else linear; nil
    /// without a factor (nothing to change).
    private func implicitScaling(of config: ModelConfig) -> Scaling? {
        guard linearFactor != nil else { return nil }
        if config.ropeYarn != nil { return .yarn }
        if case .ntk? = config.ropeDynamic { return .dynamic }
        return .linear
    }

    /// `config` with every RoPE scaling removed (θ kept).
    private static func cleared(_ config: ModelConfig) -> ModelConfig {
        var c = config
        c.ropePositionScale = 1
        c.ropeYarn = nil
        c.ropeDynamic = nil
        c.ropePairFactors = .dropped
        return c
    }
}
