/// User overrides of a model's RoPE settings, for running past the trained context (the
/// Gradient card's θ of 10⁷…10¹⁰⁺) or testing long-context recipes.
public struct RopeOverrides: Sendable, Equatable {
    /// RoPE base frequency θ (replaces the model's `rope.freq_base` / `rope_theta`).
    public var base: Double?
    /// Linear position interpolation factor: positions are divided by it (replaces the
    /// model's linear scaling; 1 = none).
    public var linearFactor: Double?

    public init(base: Double? = nil, linearFactor: Double? = nil) {
        self.base = base
        self.linearFactor = linearFactor
    }

    /// Checks the values are usable.
    /// - Throws: ``ModelError/invalidMetadata(key:reason:path:)`` naming the override.
    public func validate(path: String) throws {
        if let base, !(base.isFinite && base > 1) {
            throw ModelError.invalidMetadata(key: "--rope-theta", reason: "\(base) must be a finite number above 1", path: path)
        }
        if let linearFactor, !(linearFactor.isFinite && linearFactor >= 1) {
            throw ModelError.invalidMetadata(key: "--rope-scale", reason: "\(linearFactor) must be a finite factor ≥ 1", path: path)
        }
    }

    func apply(to config: inout ModelConfig) {
        if let base { config.ropeBase = base }
        if let linearFactor { config.ropePositionScale = 1 / linearFactor }
    }
}
