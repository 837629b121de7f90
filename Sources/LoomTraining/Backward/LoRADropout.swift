import LoomGeneration

/// LoRA dropout as PEFT applies it (`peft/tuners/lora/layer.py` `Linear.forward`):
///
///     result = base_layer(x) + lora_B(lora_A(dropout(x))) * scaling
///
/// with `dropout = nn.Dropout(p)` on the LoRA path only (the base sees the undropped `x`), one
/// independent dropout per adapted module, active in train mode only (`model.eval()` turns it
/// off, so evaluation losses have none). `nn.Dropout` keeps each element with probability
/// `1 − p` and scales the kept ones by `1/(1 − p)` (ATen `dropout`: `input * bernoulli(1 − p)
/// / (1 − p)`), so its backward multiplies the gradient by the same noise.
///
/// Masks come from Loom's seeded ``SplitMix64``, not torch's generator: the mask of a
/// (step, sequence, layer, module) site is a pure function of the seed and the site
/// (``noise(at:count:)``). So a run is deterministic for `--seed`, gradient checkpointing
/// regenerates the very mask the forward pass used, and a resumed run needs nothing beyond
/// the step number its checkpoint already holds.
public struct LoRADropout: Sendable, Equatable {
    /// Where one mask applies: the optimiser step (0-based), the sequence's index among the
    /// step's sequences (packed segments count separately), the layer and the module.
    public struct Site: Hashable, Sendable {
        public var step: Int
        public var sequence: Int
        public var layer: Int
        public var module: LoRAModule

        public init(step: Int, sequence: Int, layer: Int, module: LoRAModule) {
            self.step = step
            self.sequence = sequence
            self.layer = layer
            self.module = module
        }
    }

    /// The drop probability p, in [0, 1).
    public let probability: Double
    /// The stream's seed (the run's `--seed`).
    public let seed: UInt64

    /// - Throws: ``TrainingError/invalidParameter(_:)`` unless `probability` is in [0, 1).
    public init(probability: Double, seed: UInt64) throws {
        guard probability.isFinite, probability >= 0, probability < 1 else {
            throw TrainingError.invalidParameter("LoRA dropout must be in [0, 1), got \(probability)")
        }
        self.probability = probability
        self.seed = seed
    }

    /// `1/(1 − p)`, the factor of kept elements.
    public var keepScale: Float { Float(1 / (1 - probability)) }

    /// The generator of one site: the seed and the site's coordinates folded through
    /// splitmix64, each step a bijective mix, so distinct sites get unrelated streams.
    private func generator(at site: Site) -> SplitMix64 {
        // A constant apart from the LoRA init's and the epoch shuffles' streams.
        var key = seed ^ 0x6A09_E667_F3BC_C908
        for part in [site.step, site.sequence, site.layer, site.module.index] {
            var mix = SplitMix64(seed: key ^ UInt64(truncatingIfNeeded: part))
            key = mix.next()
        }
        return SplitMix64(seed: key)
    }

    /// The dropout noise of a site, `count` values (row-major `[tokens × inputs]`): 0 for a
    /// dropped element, ``keepScale`` for a kept one. An element is kept when the top 53
    /// bits of its draw, as a fraction of 2⁵³, are below 1 − p.
    public func noise(at site: Site, count: Int) -> [Float] {
        var random = generator(at: site)
        let threshold = UInt64(((1 - probability) * 0x1.0p53).rounded(.down))
        let kept = keepScale
        return (0..<count).map { _ in (random.next() >> 11) < threshold ? kept : 0 }
    }

    /// `y += s·B·A·(noise ⊙ x)` for `tokens` rows: the LoRA path of a dropped-out projection.
    /// `dropped` is scratch `[tokens × inputs]` (receives `noise ⊙ x`), `u` scratch
    /// `[tokens × r]`.
    public static func forward<T: TrainingScalar>(
        _ factors: LoRAFactors<T>, _ x: UnsafePointer<T>, noise: UnsafePointer<T>, tokens: Int,
        addingInto y: UnsafeMutablePointer<T>, dropped: UnsafeMutablePointer<T>, scratch u: UnsafeMutablePointer<T>
    ) {
        for i in 0..<tokens * factors.inputs { dropped[i] = x[i] * noise[i] }
        factors.forward(UnsafePointer(dropped), tokens: tokens, addingInto: y, scratch: u)
    }

    /// The backward pass of ``forward(_:_:noise:tokens:addingInto:dropped:scratch:)``:
    /// accumulates the factors' gradients (taken at the dropped input, as PEFT's autograd does)
    /// and adds `noise ⊙ (s·dy·B·A)` to `dx`. `dropped` and `dxLoRA` are scratch
    /// `[tokens × inputs]`, `u` and `du` `[tokens × r]`.
    public static func backward<T: TrainingScalar>(
        _ factors: LoRAFactors<T>, _ dy: UnsafePointer<T>, x: UnsafePointer<T>, noise: UnsafePointer<T>, tokens: Int,
        addingInto dx: UnsafeMutablePointer<T>, dropped: UnsafeMutablePointer<T>, dxLoRA: UnsafeMutablePointer<T>,
        scratch u: UnsafeMutablePointer<T>, _ du: UnsafeMutablePointer<T>
    ) {
        let count = tokens * factors.inputs
        for i in 0..<count { dropped[i] = x[i] * noise[i] }
        dxLoRA.update(repeating: 0, count: count)
        factors.backward(dy, x: UnsafePointer(dropped), tokens: tokens, addingInto: dxLoRA, scratch: u, du)
        for i in 0..<count { dx[i] += dxLoRA[i] * noise[i] }
    }
}
