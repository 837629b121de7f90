/// LLaMA-Factory's name for a model's prompt format (its `template:` key, defined in
/// `src/llamafactory/data/template.py`), recognised from the model's own chat template.
///
/// The markers are each family's turn syntax, which is what LLaMA-Factory's templates encode:
/// Llama 3 (`<|start_header_id|>`) → `llama3`; ChatML (`<|im_start|>`) → `qwen` for Qwen,
/// `smollm2`/`smollm` for SmolLM, else `chatml`; Mistral (`[INST]`) → `mistral`; Phi-3
/// (`<|user|>` … `<|end|>`) → `phi`; Gemma (`<start_of_turn>`) → `gemma`.
public enum LlamaFactoryTemplate {
    /// The template name, or nil when the chat template is none of these (pass one by hand).
    /// - Parameters:
    ///   - chatTemplate: the model's Jinja chat template.
    ///   - architecture: the GGUF `general.architecture` or HF `model_type` (`llama`, `qwen2`, …).
    ///   - modelName: the model's name (`general.name`, directory name), to tell ChatML families apart.
    public static func name(chatTemplate: String?, architecture: String? = nil, modelName: String? = nil) -> String? {
        let arch = architecture?.lowercased() ?? ""
        let name = modelName?.lowercased() ?? ""
        guard let template = chatTemplate else { return nil }
        if template.contains("<|start_header_id|>") { return "llama3" }
        if template.contains("<|im_start|>") {
            if arch.hasPrefix("qwen") || name.contains("qwen") || template.contains("Qwen") { return "qwen" }
            if name.contains("smollm2") || template.contains("SmolLM") { return "smollm2" }
            if name.contains("smollm") { return "smollm" }
            return "chatml"
        }
        if template.contains("[INST]") { return "mistral" }
        if template.contains("<|user|>"), template.contains("<|end|>") { return "phi" }
        if template.contains("<start_of_turn>") { return "gemma" }
        return nil
    }
}
