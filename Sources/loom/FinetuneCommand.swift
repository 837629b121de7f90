import ArgumentParser
import Foundation
import LoomHub
import LoomKernels
import LoomModels
import LoomTraining

/// `loom finetune -m MODEL --data FILE -o OUT`: LoRA fine-tuning on the CPU (issue #23).
struct FinetuneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "finetune",
        abstract: "Fine-tune a LoRA adapter on a chat dataset or raw text, on the CPU.",
        discussion: """
        Chat data (alpaca, sharegpt or OpenAI messages JSONL/JSON, or a LLaMA-Factory dataset_info.json) is \
        rendered with the model's own chat template and trained on the assistant tokens only; --text trains \
        on every token of a plain-text file (one document per non-blank line).

        OUT receives the adapter as a PEFT directory (adapter_config.json, adapter_model.safetensors, \
        loadable with --lora and by PEFT) and as adapter.gguf, the log train_log.jsonl (step, loss, lr, \
        grad_norm, tokens_per_s), loss.svg, and with --save-steps N a checkpoint-STEP directory every N \
        steps, each written atomically. --resume OUT (or OUT/checkpoint-STEP) continues a run exactly.

        --train-norms also trains the RMSNorm weights (input_layernorm and post_attention_layernorm of \
        the --layers, and model.norm), stored in the PEFT directory as PEFT's modules_to_save. llama.cpp's \
        GGUF LoRA cannot hold whole norm weights, so such a run writes no adapter.gguf (and `loom \
        convert-lora` refuses it); `loom export-lora` merges LoRA and norms into a model.

        --export llama-factory DIR writes the same run for LLaMA-Factory (dataset, dataset_info.json, \
        train_lora.yaml, and with --deepspeed a ZeRO JSON); without -o it only exports, with -o it \
        also trains here.

        --qat ternary trains the full weights of the --target projections of the --layers instead of \
        a LoRA adapter: quantisation-aware training towards BitNet b1.58 ternary weights and int8 \
        activations, with the straight-through estimator and the λ warm-up of Hugging Face's \
        "Fine-tuning LLMs to 1.58bit" (--qat-warmup-steps N: λ rises from 0 to 1 over N steps). It \
        needs a GGUF base and writes OUT/model.gguf (the trained projections as F32 latent \
        weights, or with --qat-export ternary as their ternary values {-1/s, 0, 1/s}, which a ternary \
        format with per-block absmax scales such as TQ2_0 stores exactly), OUT/qat_eval.json and \
        the log. With held-out data (--val-split/--val-file) it reports the held-out loss of the \
        base, of the base ternarised without training and of the trained ternary model (λ = 1). \
        --save-steps and --resume work as for LoRA (a QAT checkpoint holds the latent weights and \
        AdamW's moments: 12 bytes per trained weight). The LoRA flags, --precision bf16/f16 and \
        --export do not apply.
        """)

    @Option(name: [.short, .customLong("model")], help: "Base model: GGUF file, Hugging Face directory or model name (default: smollm2).")
    var model: String?
    @Option(name: .customLong("data"), help: "Chat dataset: JSONL or JSON in alpaca, sharegpt or messages format, or a dataset_info.json.")
    var data: String?
    @Option(name: .customLong("format"), help: "alpaca, sharegpt, messages or auto (default: auto, from the first record).")
    var format = "auto"
    @Option(name: .customLong("dataset-info"), help: "Directory holding a LLaMA-Factory dataset_info.json.") var datasetInfo: String?
    @Option(name: .customLong("dataset"), help: "Comma-separated dataset names in --dataset-info (default: every entry).") var dataset: String?
    @Option(name: .customLong("text"), help: "Plain-text file (or JSONL with \"text\") for continued pre-training.") var text: String?
    @Option(name: .customLong("val-file"), help: "Validation dataset (same formats as --data) for the eval loss.") var validationFile: String?
    @Option(name: [.short, .customLong("output")], help: "Output directory.") var output: String?

    @OptionGroup var hyper: FinetuneOptions

    @Option(name: .short, parsing: .unconditional, help: "Threads (default: all cores).") var threads: Int?
    @Flag(name: .customLong("grad-checkpoint"), help: "Recompute each layer in the backward pass: less memory, same results.")
    var gradientCheckpointing = false
    @Option(name: .customLong("save-steps"), help: "Save a checkpoint every N optimiser steps.") var saveSteps: Int?
    @Option(name: .customLong("save-total-limit"), help: "Keep only the newest N checkpoints (transformers' save_total_limit).")
    var saveTotalLimit: Int?
    @Option(name: .customLong("resume"), help: "Continue from a checkpoint directory (or an OUT holding checkpoint-N).") var resume: String?
    @Option(name: .customLong("qat"), help: "Quantisation-aware full-weight training instead of LoRA: ternary (BitNet b1.58).")
    var qat: String?
    @Option(name: .customLong("qat-warmup-steps"), help: "With --qat: λ rises linearly from 0 to 1 over N optimiser steps (default: 0, fully quantised from the start).")
    var qatWarmupSteps: Int?
    @Option(name: .customLong("qat-export"), help: "With --qat: write the trained projections as their F32 latent weights (latent, the default) or as their ternary values (ternary).")
    var qatExport = "latent"

    @Option(name: .customLong("export"), parsing: .upToNextOption,
            help: ArgumentHelp("Write a LLaMA-Factory run instead of (or, with -o, besides) training here.", valueName: "llama-factory DIR"))
    var export: [String] = []
    @Option(name: .customLong("deepspeed"), help: "With --export: a DeepSpeed ZeRO-2 or ZeRO-3 config (2 or 3).") var deepSpeedStage: Int?
    @Flag(name: .customLong("offload"), help: "With --deepspeed: offload optimiser state (and ZeRO-3 parameters) to the CPU.") var offload = false
    @Option(name: .customLong("export-model"), help: "With --export: the base as LLaMA-Factory loads it (HF repo id or directory; default: -m).")
    var exportModel: String?
    @Option(name: .customLong("export-template"), help: "With --export: LLaMA-Factory's template name (default: recognised from the chat template).")
    var exportTemplate: String?

    func validate() throws {
        let sources = [data, datasetInfo, text].compactMap { $0 }
        guard sources.count == 1 else { throw ValidationError("give exactly one of --data, --dataset-info and --text") }
        guard ["auto", "alpaca", "sharegpt", "messages"].contains(format) else {
            throw ValidationError("--format must be alpaca, sharegpt, messages or auto, got '\(format)'")
        }
        if dataset != nil, datasetInfo == nil { throw ValidationError("--dataset needs --dataset-info DIR") }
        if !export.isEmpty {
            guard export.count == 2, export[0] == "llama-factory" else {
                throw ValidationError("--export takes a target and a directory: --export llama-factory DIR")
            }
        } else if output == nil {
            throw ValidationError("-o OUT is required (the adapter's directory)")
        }
        if let threads, !(1...512).contains(threads) { throw ValidationError("-t must be between 1 and 512, got \(threads)") }
        if let saveSteps, saveSteps < 1 { throw ValidationError("--save-steps must be ≥ 1, got \(saveSteps)") }
        if let saveTotalLimit, saveTotalLimit < 1 { throw ValidationError("--save-total-limit must be ≥ 1, got \(saveTotalLimit)") }
        if deepSpeedStage != nil, export.isEmpty { throw ValidationError("--deepspeed needs --export llama-factory DIR") }
        if offload, deepSpeedStage == nil { throw ValidationError("--offload needs --deepspeed 2|3") }
        if validationFile != nil, hyper.validationSplit != nil { throw ValidationError("give --val-file or --val-split, not both") }
        try validateQAT()
    }

    /// Loads `path` with the command's format and strictness, reporting skipped records.
    func load(_ path: String, names: [String]? = nil, formatOverride: DatasetFormat? = nil, strict: Bool) throws -> [TrainingExample] {
        let chosen: DatasetFormat?
        switch format {
        case "alpaca": chosen = .alpaca
        case "sharegpt": chosen = .sharegpt
        case "messages": chosen = .openai
        default: chosen = nil
        }
        let loaded = try DatasetLoader.load(path: path, format: formatOverride ?? chosen, names: names, strict: strict)
        for issue in loaded.issues.prefix(10) { StandardError.print("skipped \(issue)") }
        if loaded.issues.count > 10 { StandardError.print("… and \(loaded.issues.count - 10) more skipped records") }
        return loaded.examples
    }

    func run() throws {
        let config = try hyper.config()
        let modelPath = try ModelLocator.resolve(model)
        let languageModel = try LanguageModel(path: modelPath)
        var examples: [TrainingExample]
        if let text {
            examples = try load(text, formatOverride: .text, strict: config.strict)
        } else if let datasetInfo {
            let names = dataset.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
            examples = try load((datasetInfo as NSString).appendingPathComponent(DatasetInfo.fileName), names: names, strict: config.strict)
        } else {
            examples = try load(data!, strict: config.strict)
        }
        var validationExamples: [TrainingExample]?
        if let validationFile {
            validationExamples = try load(validationFile, formatOverride: text != nil ? .text : nil, strict: config.strict)
        } else if let size = config.validationSplit {
            let split = try DatasetSplit.split(examples, size: size, seed: config.seed)
            (examples, validationExamples) = (split.train, split.validation)
        }
        if export.count == 2 {
            try writeExport(config: config, model: languageModel, modelPath: modelPath, examples: examples, validation: validationExamples,
                            directory: export[1])
            if output == nil { return }
        }
        if qat != nil {
            try trainQAT(config: config, model: languageModel, modelPath: modelPath, examples: examples,
                         validation: validationExamples ?? [], output: output!)
        } else {
            try train(config: config, model: languageModel, examples: examples, validation: validationExamples ?? [], output: output!)
        }
    }

    func writeExport(config: FineTuneConfig, model: LanguageModel, modelPath: String, examples: [TrainingExample],
                     validation: [TrainingExample]?, directory: String) throws {
        let c = model.config
        guard let template = exportTemplate
                ?? LlamaFactoryTemplate.name(chatTemplate: model.chatTemplate, architecture: c.architecture.name, modelName: c.name) else {
            throw ValidationError("cannot tell LLaMA-Factory's template from the model's chat template; pass --export-template NAME")
        }
        var options = LlamaFactoryExporter.Options(modelNameOrPath: exportModel ?? modelPath, template: template)
        options.layerCount = c.layerCount
        if let saveSteps { options.saveSteps = saveSteps }
        options.saveTotalLimit = saveTotalLimit
        if let stage = deepSpeedStage { options.deepSpeed = try DeepSpeedConfig(stage: stage, offload: offload) }
        let result = try LlamaFactoryExporter(config: config, options: options).write(examples, validation: validation, to: directory)
        for skipped in result.skipped { StandardError.print("not exported: \(skipped)") }
        StandardError.print("LLaMA-Factory export: \(result.exportedExamples) examples in \(directory) (run there: llamafactory-cli train \(LlamaFactoryExporter.yamlName))")
    }
}
