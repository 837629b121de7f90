import Foundation
import XCTest

/// `Fixtures/finetune_steps.json` as scripts/gen_finetune_fixtures.py writes it: two LoRA
/// training steps by PyTorch + PEFT (loss, unclipped gradients, clipped norm, AdamW update)
/// on the tiny random bases of `Tests/LoomModelsTests/Fixtures/hf_independent/`.
struct FinetuneStepFixture: Decodable {
    struct Factors: Decodable {
        let a: [Float]
        let b: [Float]
    }

    struct Step: Decodable {
        let loss: Double
        let grad_norm: Double
        let clipped: Bool
        /// Unclipped gradients, step 1 only; keys "layer.module".
        let grads: [String: Factors]?
        /// Factors after the optimiser step.
        let after: [String: Factors]
        /// The dropout case: each module's keep mask per sequence ("0101…", row-major
        /// `[tokens × in]`, 1 = kept), as PEFT's `lora_dropout` applied it in this step.
        let dropout_masks: [String: [String]]?
        /// The f16 case: the GradScaler scale the step's backward pass used.
        let loss_scale: Double?
        /// The trained-norms case: unclipped norm gradients (step 1 only) and the norms after
        /// the step, by HF module name (`model.layers.1.input_layernorm`, `model.norm`).
        let norm_grads: [String: [Float]]?
        let norms_after: [String: [Float]]?
    }

    /// An autocast case's step-1 loss and gradients without autocast (f32).
    struct Reference: Decodable {
        let loss: Double
        let grads: [String: Factors]
    }

    struct Case: Decodable {
        let base: String
        let r: Int
        let lora_alpha: Double
        let use_rslora: Bool
        let targets: [String]
        let layers: [Int]?
        let lr: Double
        let betas: [Double]
        let eps: Double
        let weight_decay: Double
        let max_grad_norm: Double
        let tokens: [[Int32]]
        let labels: [[Int32]]
        let initial: [String: Factors]
        let steps: [Step]
        /// The QLoRA case: the base's matrices rounded through `type`, with each GGUF tensor's
        /// float64 sum of dequantised values.
        let quantized: Quantized?
        /// `lora_dropout` p of the dropout case.
        let dropout: Double?
        /// "bf16" or "f16" for the torch.autocast cases.
        let precision: String?
        let f32_reference: Reference?
        /// The trained-norms case (PEFT `modules_to_save`): the norms' initial values by HF
        /// module name.
        let norms_initial: [String: [Float]]?
    }

    struct Quantized: Decodable {
        let type: String
        let dequantized_sums: [String: Double]
    }

    let transformers: String
    let torch: String
    let peft: String
    let cases: [String: Case]

    static func load() throws -> FinetuneStepFixture {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "finetune_steps", withExtension: "json", subdirectory: "Fixtures"))
        return try JSONDecoder().decode(Self.self, from: Data(contentsOf: url))
    }

    /// A base directory of LoomModelsTests' fixtures (shared, not copied: the same files PEFT's
    /// parity fixtures use), found from this source file's location in the repository.
    static func baseDirectory(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("LoomModelsTests/Fixtures/hf_independent/\(name)").path
    }
}
