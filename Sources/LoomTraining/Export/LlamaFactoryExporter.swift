import Foundation
import LoomJinja

/// `loom finetune … --export llama-factory DIR`: the same run, handed to LLaMA-Factory (and
/// DeepSpeed) for a GPU cluster.
///
/// Writes into `DIR`:
/// - `data/<name>.json` and `data/dataset_info.json`: the dataset in LLaMA-Factory's sharegpt
///   or alpaca format (``LlamaFactoryDataset``), and `data/<name>_val.json` for a validation file;
/// - `train_lora.yaml`: the hyper-parameters of ``FineTuneConfig`` under LLaMA-Factory's keys
///   (`src/llamafactory/hparams/*.py`, `examples/train_lora/llama3_lora_sft.yaml`), with
///   `dataset_dir` and `deepspeed` relative to `DIR`, so the folder can be copied to a cluster
///   and run there with `llamafactory-cli train train_lora.yaml`;
/// - `ds_z2_config.json` / `ds_z3_offload_config.json` … when DeepSpeed is asked for.
///
/// `scripts/check_llamafactory_export.py` loads such a YAML with LLaMA-Factory's own argument
/// parser and checks every value.
public struct LlamaFactoryExporter: Sendable {
    /// What the export needs beyond the hyper-parameters.
    public struct Options: Sendable {
        /// The base model as LLaMA-Factory loads it: a Hugging Face repo id or an HF directory
        /// (LLaMA-Factory cannot train a GGUF).
        public var modelNameOrPath: String
        /// LLaMA-Factory's template name (``LlamaFactoryTemplate/name(chatTemplate:architecture:modelName:)``).
        public var template: String
        /// The dataset's name in `dataset_info.json`.
        public var datasetName = "loom_sft"
        /// Record layout of the exported chat data.
        public var layout: LlamaFactoryDataset.Layout = .sharegpt
        /// ZeRO stage and offload, or nil for no DeepSpeed.
        public var deepSpeed: DeepSpeedConfig?
        /// Where LLaMA-Factory writes the adapter (relative to where it runs).
        public var outputDir = "saves/loom-lora"
        /// The model's layer count; needed when ``FineTuneConfig/layers`` is not all layers.
        public var layerCount: Int?
        /// LLaMA-Factory's `logging_steps` and `save_steps` (also `eval_steps` unless set).
        public var loggingSteps = 10
        public var saveSteps = 500
        /// transformers' `save_total_limit` (written only when set).
        public var saveTotalLimit: Int?

        public init(modelNameOrPath: String, template: String) {
            self.modelNameOrPath = modelNameOrPath
            self.template = template
        }
    }

    /// What was written.
    public struct Result: Sendable {
        /// Paths of the files written.
        public var files: [String]
        public var exportedExamples: Int
        /// Examples LLaMA-Factory's format cannot express, as `SOURCE: reason`.
        public var skipped: [String]
    }

    /// The training YAML's file name, and the dataset folder (`dataset_dir`), inside the export.
    public static let yamlName = "train_lora.yaml"
    public static let dataDirectory = "data"

    public let config: FineTuneConfig
    public let options: Options

    public init(config: FineTuneConfig, options: Options) {
        self.config = config
        self.options = options
    }

    /// The name of the validation dataset in `dataset_info.json`.
    public var validationDatasetName: String { options.datasetName + "_val" }

    /// The training YAML for a dataset that is raw text (`stage: pt`) or chat (`stage: sft`),
    /// with `eval_dataset` when a validation file is exported and `val_size` for
    /// ``FineTuneConfig/validationSplit``.
    /// - Throws: ``TrainingError/invalidParameter(_:)`` for a config LLaMA-Factory cannot take
    ///   (a bad value, a fractional LoRA alpha, a layer selection without the layer count).
    public func yaml(isText: Bool = false, hasValidationFile: Bool = false) throws -> LlamaFactoryYAML {
        try config.validate()
        guard options.template.range(of: "^[A-Za-z0-9_.-]+$", options: .regularExpression) != nil else {
            throw TrainingError.invalidParameter("LLaMA-Factory template name \"\(options.template)\" is not a plain name")
        }
        // LLaMA-Factory's `lora_alpha` is an int (`FinetuningArguments`).
        guard config.loraAlpha == config.loraAlpha.rounded(), abs(config.loraAlpha) < 1e9 else {
            throw TrainingError.invalidParameter("--lora-alpha \(config.loraAlpha): LLaMA-Factory's lora_alpha is an integer")
        }
        var y = LlamaFactoryYAML()
        y.set("model_name_or_path", .string(options.modelNameOrPath), section: "model")
        y.set("stage", .string(isText ? "pt" : "sft"), section: "method")
        y.set("do_train", .bool(true))
        y.set("finetuning_type", .string("lora"))
        y.set("lora_rank", .integer(config.loraRank))
        y.set("lora_alpha", .integer(Int(config.loraAlpha)))
        y.set("lora_dropout", .float(config.loraDropout))
        y.set("lora_target", .string(try loraTarget()))
        y.set("use_rslora", .bool(config.useRSLoRA))
        if config.trainNorms { y.set("additional_target", .string(try additionalTarget())) }
        if let deepSpeed = options.deepSpeed { y.set("deepspeed", .string(deepSpeed.fileName)) }

        y.set("dataset", .string(options.datasetName), section: "dataset")
        y.set("dataset_dir", .string(Self.dataDirectory))
        y.set("template", .string(options.template))
        // With packing, LLaMA-Factory's DataArguments subtract 1 from cutoff_len ("avoid
        // pad_to_multiple_of", hparams/data_args.py); one more here keeps packs as long as Loom's.
        y.set("cutoff_len", .integer(config.cutoffLength + (config.packing ? 1 : 0)))
        y.set("packing", .bool(config.packing))
        // Loom packs with attention kept inside each example: LLaMA-Factory's neat packing.
        y.set("neat_packing", .bool(config.packing))
        if !isText {
            y.set("train_on_prompt", .bool(false))
            y.set("mask_history", .bool(false))
        }
        // An exported validation set is the exact held-out data (a --val-file, or the examples
        // Loom's own --val-split chose), so it wins over asking LLaMA-Factory to split again.
        if hasValidationFile {
            y.set("eval_dataset", .string(validationDatasetName))
        } else {
            switch config.validationSplit {
            case .fraction(let fraction)?: y.set("val_size", .float(fraction))
            case .count(let count)?: y.set("val_size", .integer(count))
            case nil: break
            }
        }

        y.set("output_dir", .string(options.outputDir), section: "output")
        y.set("logging_steps", .integer(options.loggingSteps))
        y.set("save_steps", .integer(options.saveSteps))
        if let limit = options.saveTotalLimit { y.set("save_total_limit", .integer(limit)) }
        y.set("plot_loss", .bool(true))
        y.set("overwrite_output_dir", .bool(true))
        y.set("report_to", .string("none"))

        y.set("per_device_train_batch_size", .integer(config.batchSize), section: "train")
        y.set("gradient_accumulation_steps", .integer(config.gradientAccumulation))
        y.set("learning_rate", .float(config.learningRate))
        y.set("num_train_epochs", .float(config.epochs))
        if let maxSteps = config.maxSteps { y.set("max_steps", .integer(maxSteps)) }
        // transformers' "constant" ignores warm-up; Loom's constant schedule has one.
        y.set("lr_scheduler_type", .string(config.schedule == .constant ? "constant_with_warmup" : config.schedule.rawValue))
        switch config.warmup {
        case .steps(let steps): y.set("warmup_steps", .integer(steps))
        case .ratio(let ratio): y.set("warmup_ratio", .float(ratio))
        }
        y.set("weight_decay", .float(config.weightDecay))
        y.set("adam_beta1", .float(config.betas.0))
        y.set("adam_beta2", .float(config.betas.1))
        y.set("adam_epsilon", .float(config.epsilon))
        y.set("max_grad_norm", .float(config.maxGradNorm))
        y.set("bf16", .bool(config.precision == .bf16))
        y.set("fp16", .bool(config.precision == .f16))
        y.set("seed", .integer(Int(clamping: config.seed)))

        if hasValidationFile || config.validationSplit != nil {
            y.set("per_device_eval_batch_size", .integer(config.batchSize), section: "eval")
            y.set("eval_strategy", .string("steps"))
            y.set("eval_steps", .integer(config.evalSteps ?? options.saveSteps))
        }
        return y
    }

    /// `all`, the module names, or — for a layer selection — every module's path suffix in
    /// each selected layer (`layers.3.self_attn.q_proj`): PEFT matches `target_modules` entries
    /// as name suffixes, and LLaMA-Factory passes `lora_target` to it as that list.
    /// `--train-norms` as LLaMA-Factory's `additional_target` (its PEFT `modules_to_save`,
    /// matched by `key.endswith`): the adapted layers' two norms and `model.norm`, by full
    /// module name so a layer selection stays exact.
    func additionalTarget() throws -> String {
        let layers: [Int]
        if config.layers == .all, options.layerCount == nil {
            return "input_layernorm,post_attention_layernorm,model.norm"
        }
        guard let count = options.layerCount else {
            throw TrainingError.invalidParameter("--layers \(config.layers): the export needs the model's layer count")
        }
        layers = try config.layers.resolve(layerCount: count)
        return (layers.flatMap { ["model.layers.\($0).input_layernorm", "model.layers.\($0).post_attention_layernorm"] } + ["model.norm"])
            .joined(separator: ",")
    }

    func loraTarget() throws -> String {
        let isAllLayers: Bool
        var layers: [Int] = []
        if config.layers == .all {
            isAllLayers = true
        } else {
            guard let count = options.layerCount else {
                throw TrainingError.invalidParameter("--layers \(config.layers): the export needs the model's layer count")
            }
            layers = try config.layers.resolve(layerCount: count)
            isAllLayers = layers.count == count
        }
        if isAllLayers {
            return config.targets == .allLinear ? "all" : config.targets.moduleNames.joined(separator: ",")
        }
        return layers.flatMap { layer in
            config.targets.moduleNames.map { module in
                let block = ["gate_proj", "up_proj", "down_proj"].contains(module) ? "mlp" : "self_attn"
                return "layers.\(layer).\(block).\(module)"
            }
        }.joined(separator: ",")
    }

    /// Writes the export of `examples` (and of a separate `validation` set) into `directory`
    /// (created if needed); each file is written atomically.
    /// - Throws: ``TrainingError/exportFailed(path:reason:)``, ``TrainingError/emptyDataset(path:)``
    ///   when no example can be expressed, and the errors of ``yaml(isText:)``.
    @discardableResult
    public func write(_ examples: [TrainingExample], validation: [TrainingExample]? = nil, to directory: String) throws -> Result {
        guard options.datasetName.range(of: "^[A-Za-z0-9_.-]+$", options: .regularExpression) != nil else {
            throw TrainingError.invalidParameter("dataset name \"\(options.datasetName)\" must be letters, digits, _ . -")
        }
        let dataset = try LlamaFactoryDataset(examples, layout: options.layout)
        guard !dataset.records.isEmpty else { throw TrainingError.emptyDataset(path: directory) }
        let validationSet = try validation.map { try LlamaFactoryDataset($0, layout: options.layout) }
        if let validationSet {
            guard !validationSet.records.isEmpty else { throw TrainingError.emptyDataset(path: "the validation set") }
            guard validationSet.isText == dataset.isText else {
                throw TrainingError.exportFailed(path: "dataset", reason: "the validation set and the training set must both be chat or both raw text")
            }
        }
        let yaml = try yaml(isText: dataset.isText, hasValidationFile: validationSet != nil)
        let dataDirectory = (directory as NSString).appendingPathComponent(Self.dataDirectory)
        do {
            try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        } catch {
            throw TrainingError.exportFailed(path: dataDirectory, reason: error.localizedDescription)
        }
        let dataFile = options.datasetName + ".json"
        var info: JSONObject = [options.datasetName: dataset.infoEntry(fileName: dataFile)]
        var files: [(String, String)] = [((dataDirectory as NSString).appendingPathComponent(dataFile), dataset.fileText)]
        if let validationSet {
            let validationFile = validationDatasetName + ".json"
            info[validationDatasetName] = validationSet.infoEntry(fileName: validationFile)
            files.append(((dataDirectory as NSString).appendingPathComponent(validationFile), validationSet.fileText))
        }
        files += [
            ((dataDirectory as NSString).appendingPathComponent(DatasetInfo.fileName), JSONText.pretty(.object(info)) + "\n"),
            ((directory as NSString).appendingPathComponent(Self.yamlName), yaml.text(header: [
                "LLaMA-Factory LoRA run exported by `loom finetune --export llama-factory`.",
                "Run from this directory: llamafactory-cli train \(Self.yamlName)",
            ])),
        ]
        if let deepSpeed = options.deepSpeed {
            files.append(((directory as NSString).appendingPathComponent(deepSpeed.fileName), deepSpeed.text))
        }
        for (path, text) in files {
            do {
                try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
            } catch {
                throw TrainingError.exportFailed(path: path, reason: error.localizedDescription)
            }
        }
        return Result(files: files.map(\.0), exportedExamples: dataset.records.count,
                      skipped: dataset.skipped + (validationSet?.skipped ?? []))
    }
}
