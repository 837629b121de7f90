/// What ``QATTrainer`` trains and how: the projections of the chosen layers under ternary
/// fake quantisation, and the λ warm-up (`loom finetune --qat ternary --qat-warmup-steps N`).
public struct QATSettings: Sendable, Equatable {
    /// The quantisation the training prepares for. Only BitNet b1.58's ternary weights with
    /// int8 activations exist.
    public enum Target: String, Sendable, CaseIterable {
        case ternary
    }

    public var target: Target
    /// Projections trained in every chosen layer (all seven by default, as BitNet replaces
    /// every `nn.Linear` of the decoder; the LM head and the embedding stay as they are).
    public var modules: Set<LoRAModule>
    /// Layers trained (0-based); nil for all.
    public var layers: [Int]?
    /// λ rises linearly from 0 to 1 over this many optimiser steps and then stays 1 (the
    /// blog's `lambda_ = min(training_step / 1000, 1)` with 1000 → N); 0 quantises fully from
    /// the first step.
    public var warmupSteps: Int
    /// Recompute each layer in the backward pass (`--grad-checkpoint`).
    public var gradientCheckpointing: Bool

    public init(target: Target = .ternary, modules: Set<LoRAModule> = Set(LoRAModule.allCases), layers: [Int]? = nil,
                warmupSteps: Int = 0, gradientCheckpointing: Bool = false) {
        self.target = target
        self.modules = modules
        self.layers = layers
        self.warmupSteps = warmupSteps
        self.gradientCheckpointing = gradientCheckpointing
    }

    /// λ of the optimiser step that follows `completedSteps` updates: `min(t/N, 1)`, so the
    /// first step (t = 0) is unquantised when N > 0, and step N + 1 onwards is fully ternary.
    public func lambda(afterSteps completedSteps: Int) -> Double {
        warmupSteps == 0 ? 1 : min(Double(completedSteps) / Double(warmupSteps), 1)
    }

    func validate(layerCount: Int) throws {
        guard !modules.isEmpty else { throw TrainingError.invalidParameter("--qat needs at least one projection to train") }
        guard warmupSteps >= 0 else { throw TrainingError.invalidParameter("--qat-warmup-steps must be ≥ 0, got \(warmupSteps)") }
        if let layers {
            guard !layers.isEmpty else { throw TrainingError.invalidParameter("--qat needs at least one layer to train") }
            if let bad = layers.first(where: { $0 < 0 || $0 >= layerCount }) {
                throw TrainingError.invalidParameter("layer \(bad) is outside the model's 0..<\(layerCount)")
            }
        }
    }
}
