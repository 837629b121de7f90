import Foundation
import XCTest

/// `Fixtures/qat_steps.json` as scripts/gen_qat_fixtures.py writes it: quantisation-aware
/// training steps by PyTorch (BitLinear fake quantisation with the warm-up λ, straight-through
/// estimator, clipping, AdamW) on the tiny random bases of `Tests/LoomModelsTests/Fixtures/hf_independent/`.
struct QATStepFixture: Decodable {
    /// A tensor too large to record whole: 64 elements at `stride` (row-major `[out, in]`)
    /// and float64 sums over all of it.
    struct Summary: Decodable {
        let sample: [Float]
        let stride: Int
        let sum: Double
        let abs_sum: Double
    }

    struct Step: Decodable {
        let lambda: Double
        let loss: Double
        let grad_norm: Double
        /// Unclipped gradients of the latent weights, step 1 only; keys "layer.module".
        let grads: [String: Summary]?
        /// Latent weights after the step.
        let after: [String: Summary]
    }

    /// Step-1 numbers of deliberately wrong implementations.
    struct Mutations: Decodable {
        /// Gradients without `.detach()` (no straight-through estimator).
        let no_ste_grads: [String: Summary]
        /// The loss with the weight scale inverted (`mean|w|` instead of `1/mean|w|`).
        let inverted_scale_loss: Double
    }

    struct Case: Decodable {
        let base: String
        let modules: [String]
        let layers: [Int]?
        let lr: Double
        let betas: [Double]
        let eps: Double
        let weight_decay: Double
        let max_grad_norm: Double
        let tokens: [[Int32]]
        let labels: [[Int32]]
        let steps: [Step]
        /// Set for the case that runs the warm-up schedule itself (λ not forced per step).
        let warmup_steps: Int?
        let mutations: Mutations?
    }

    let transformers: String
    let torch: String
    let cases: [String: Case]

    static func load() throws -> QATStepFixture {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "qat_steps", withExtension: "json", subdirectory: "Fixtures"))
        return try JSONDecoder().decode(Self.self, from: Data(contentsOf: url))
    }
}
