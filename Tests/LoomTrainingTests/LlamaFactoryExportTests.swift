import Foundation
import LoomGeneration
import LoomJinja
import XCTest
@testable import LoomTraining

/// The LLaMA-Factory hand-off: dataset + dataset_info.json, training YAML, DeepSpeed JSON.
final class LlamaFactoryExportTests: XCTestCase {
    private var directory: String!

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "loom-export-\(UUID().uuidString)"
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func read(_ name: String) throws -> String {
        try String(contentsOfFile: (directory as NSString).appendingPathComponent(name), encoding: .utf8)
    }

    private let examples = [
        TrainingExample(content: .conversation([.system("Be terse."), .user("What is a nonce?"), .assistant("A number used once.")]),
                        source: "d: line 1"),
        TrainingExample(content: .conversation([
            .user("Price of BTC?"),
            ChatMessage(role: "assistant", content: nil, toolCalls: [.init(name: "get_price", arguments: "{\"coin\":\"BTC\"}")]),
            ChatMessage(role: "tool", content: "97000"), .assistant("About $97k."), .user("untrained follow-up"),
        ]), tools: "[{\"name\":\"get_price\"}]", source: "d: line 2"),
        TrainingExample(content: .conversation([.user("a"), .user("b"), .assistant("c")]), source: "d: line 3"),
    ]

    func testShareGPTExportWithZeRO3Offload() throws {
        var config = FineTuneConfig()
        config.loraRank = 16
        config.loraAlpha = 32
        config.loraDropout = 0.05
        config.targets = .modules(["q_proj", "v_proj"])
        config.learningRate = 2e-4
        config.warmup = .steps(5)
        config.schedule = .linear
        config.maxSteps = 100
        config.precision = .bf16
        config.packing = true
        config.seed = 7
        var options = LlamaFactoryExporter.Options(modelNameOrPath: "HuggingFaceTB/SmolLM2-135M-Instruct", template: "smollm2")
        options.deepSpeed = try DeepSpeedConfig(stage: 3, offload: true)
        let result = try LlamaFactoryExporter(config: config, options: options).write(examples, to: directory)
        XCTAssertEqual(result.exportedExamples, 2)
        XCTAssertEqual(result.skipped, ["d: line 3: turn 1 is human where gpt or function_call must come (LLaMA-Factory needs alternating turns)"])
        XCTAssertEqual(result.files.map { ($0 as NSString).lastPathComponent },
                       ["loom_sft.json", "dataset_info.json", "train_lora.yaml", "ds_z3_offload_config.json"])

        try assertEqualsFixture("llamafactory_export",
                                ["data/loom_sft.json", "data/dataset_info.json", "train_lora.yaml", "ds_z3_offload_config.json"])

        XCTAssertEqual(try read("data/loom_sft.json"), """
            [
            {"conversations":[{"from":"human","value":"What is a nonce?"},{"from":"gpt","value":"A number used once."}],"system":"Be terse.","tools":""},
            {"conversations":[{"from":"human","value":"Price of BTC?"},{"from":"function_call","value":"{\\"name\\":\\"get_price\\",\\"arguments\\":{\\"coin\\":\\"BTC\\"}}"},{"from":"observation","value":"97000"},{"from":"gpt","value":"About $97k."}],"system":"","tools":"[{\\"name\\":\\"get_price\\"}]"}
            ]

            """)
        XCTAssertEqual(try read("data/dataset_info.json"), """
            {
              "loom_sft": {
                "file_name": "loom_sft.json",
                "formatting": "sharegpt",
                "columns": {
                  "messages": "conversations",
                  "system": "system",
                  "tools": "tools"
                }
              }
            }

            """)
        let yaml = try read("train_lora.yaml")
        for line in [
            "model_name_or_path: \"HuggingFaceTB/SmolLM2-135M-Instruct\"", "stage: \"sft\"", "do_train: true",
            "finetuning_type: \"lora\"", "lora_rank: 16", "lora_alpha: 32", "lora_dropout: 0.05",
            "lora_target: \"q_proj,v_proj\"", "use_rslora: false", "deepspeed: \"ds_z3_offload_config.json\"",
            "dataset: \"loom_sft\"", "dataset_dir: \"data\"", "template: \"smollm2\"", "cutoff_len: 2049",
            "packing: true", "neat_packing: true", "train_on_prompt: false", "learning_rate: 0.0002",
            "max_steps: 100", "lr_scheduler_type: \"linear\"", "warmup_steps: 5", "adam_beta2: 0.999",
            "adam_epsilon: 1.0e-08", "max_grad_norm: 1.0", "bf16: true", "fp16: false", "seed: 7",
            "per_device_train_batch_size: 1", "gradient_accumulation_steps: 8", "num_train_epochs: 3.0",
            "weight_decay: 0.0", "output_dir: \"saves/loom-lora\"",
        ] {
            XCTAssertTrue(yaml.contains("\n" + line + "\n"), "missing \(line) in\n\(yaml)")
        }
        XCTAssertTrue(yaml.hasPrefix("# LLaMA-Factory LoRA run exported by `loom finetune --export llama-factory`.\n"))

        // The DeepSpeed file is LLaMA-Factory's ds_z3_offload_config.json settings.
        guard case .object(let ds) = try JSONParser.parse(Array(try read("ds_z3_offload_config.json").utf8)),
              case .object(let zero)? = ds["zero_optimization"] else { return XCTFail("not a JSON object") }
        XCTAssertEqual(zero.keys.first, "stage")
        XCTAssertEqual(JSONText.serialize(zero["stage"]!), "3")
        XCTAssertEqual(JSONText.serialize(zero["offload_optimizer"]!), "{\"device\":\"cpu\",\"pin_memory\":true}")
        XCTAssertEqual(JSONText.serialize(zero["offload_param"]!), "{\"device\":\"cpu\",\"pin_memory\":true}")
        XCTAssertEqual(JSONText.serialize(zero["stage3_gather_16bit_weights_on_model_save"]!), "true")
        XCTAssertEqual(JSONText.serialize(ds["gradient_accumulation_steps"]!), "\"auto\"")
    }

    /// Byte-for-byte comparison with a committed export that scripts/check_llamafactory_export.py
    /// checks with LLaMA-Factory's parser (LOOM_WRITE_EXPORT_FIXTURE=DIR writes it to DIR/NAME).
    private func assertEqualsFixture(_ fixtureName: String, _ names: [String]) throws {
        if let out = ProcessInfo.processInfo.environment["LOOM_WRITE_EXPORT_FIXTURE"] {
            let target = out + "/" + fixtureName
            try FileManager.default.createDirectory(atPath: target + "/data", withIntermediateDirectories: true)
            for name in names { try read(name).write(toFile: target + "/" + name, atomically: true, encoding: .utf8) }
        }
        let fixture = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/" + fixtureName, withExtension: nil))
        for name in names {
            XCTAssertEqual(try read(name), try String(contentsOf: fixture.appendingPathComponent(name), encoding: .utf8), name)
        }
    }

    func testAlpacaExportWithValidationFileAndLayerTargets() throws {
        var config = FineTuneConfig()
        config.layers = try .init(parsing: "0,2")
        config.targets = .modules(["q_proj", "down_proj"])
        config.precision = .f16
        config.schedule = .constant
        config.validationSplit = .fraction(0.2)  // superseded by the exported validation set
        config.evalSteps = 50
        var options = LlamaFactoryExporter.Options(modelNameOrPath: "/models/llama", template: "llama3")
        options.layout = .alpaca
        options.datasetName = "mine"
        options.deepSpeed = try DeepSpeedConfig(stage: 2)
        XCTAssertThrowsError(try LlamaFactoryExporter(config: config, options: options).write(examples, to: directory)) { error in
            XCTAssertEqual("\(error)", "invalid training parameter: --layers 0,2: the export needs the model's layer count")
        }
        options.layerCount = 4
        let history = TrainingExample(content: .conversation([.user("1"), .assistant("one"), .user("2"), .assistant("two")]), source: "h")
        let held = [TrainingExample(content: .conversation([.user("v"), .assistant("w")]), source: "v")]
        let result = try LlamaFactoryExporter(config: config, options: options).write(examples + [history], validation: held, to: directory)
        XCTAssertEqual(result.skipped.count, 2)
        XCTAssertEqual(result.skipped[0], "d: line 2: tool calls cannot be written in the alpaca format (use sharegpt)")
        XCTAssertEqual(try read("data/mine.json"), """
            [
            {"instruction":"What is a nonce?","output":"A number used once.","system":"Be terse.","history":[]},
            {"instruction":"2","output":"two","system":"","history":[["1","one"]]}
            ]

            """)
        XCTAssertEqual(try read("data/mine_val.json"), "[\n{\"instruction\":\"v\",\"output\":\"w\",\"system\":\"\",\"history\":[]}\n]\n")
        let yaml = try read("train_lora.yaml")
        for line in [
            "lora_target: \"layers.0.self_attn.q_proj,layers.0.mlp.down_proj,layers.2.self_attn.q_proj,layers.2.mlp.down_proj\"",
            "lr_scheduler_type: \"constant_with_warmup\"", "warmup_ratio: 0.1", "fp16: true", "bf16: false",
            "deepspeed: \"ds_z2_config.json\"", "eval_dataset: \"mine_val\"", "eval_strategy: \"steps\"", "eval_steps: 50",
            "cutoff_len: 2048", "packing: false",
        ] {
            XCTAssertTrue(yaml.contains("\n" + line + "\n"), "missing \(line) in\n\(yaml)")
        }
        XCTAssertFalse(yaml.contains("val_size"))
        XCTAssertTrue(try read("ds_z2_config.json").contains("\"round_robin_gradients\": true"))
        try assertEqualsFixture("llamafactory_export_alpaca",
                                ["data/mine.json", "data/mine_val.json", "data/dataset_info.json", "train_lora.yaml", "ds_z2_config.json"])
        // All layers selected → the plain module list again.
        config.layers = try .init(parsing: "0-3")
        XCTAssertEqual(try LlamaFactoryExporter(config: config, options: options).loraTarget(), "q_proj,down_proj")
        // Without an exported validation set, LLaMA-Factory splits by val_size.
        let yamlSplit = try LlamaFactoryExporter(config: config, options: options).yaml()
        XCTAssertEqual(yamlSplit["val_size"], .float(0.2))
        XCTAssertNil(yamlSplit["eval_dataset"])
        config.validationSplit = .count(30)
        XCTAssertEqual(try LlamaFactoryExporter(config: config, options: options).yaml()["val_size"], .integer(30))
        // --train-norms: LLaMA-Factory's additional_target (PEFT modules_to_save), by full name
        // for a layer selection; absent without the flag.
        XCTAssertNil(try LlamaFactoryExporter(config: config, options: options).yaml()["additional_target"])
        config.trainNorms = true
        config.layers = try .init(parsing: "2")
        XCTAssertEqual(try LlamaFactoryExporter(config: config, options: options).yaml()["additional_target"],
                       .string("model.layers.2.input_layernorm,model.layers.2.post_attention_layernorm,model.norm"))
    }

    func testRawTextExportIsPretraining() throws {
        let texts = [TrainingExample(content: .text("Blocks\nchain."), source: "t")]
        let options = LlamaFactoryExporter.Options(modelNameOrPath: "m", template: "qwen")
        try LlamaFactoryExporter(config: FineTuneConfig(), options: options).write(texts, to: directory)
        XCTAssertEqual(try read("data/loom_sft.json"), "[\n{\"text\":\"Blocks\\nchain.\"}\n]\n")
        XCTAssertTrue(try read("data/dataset_info.json").contains("\"prompt\": \"text\""))
        let yaml = try read("train_lora.yaml")
        XCTAssertTrue(yaml.contains("\nstage: \"pt\"\n"))
        XCTAssertFalse(yaml.contains("train_on_prompt"))
        XCTAssertThrowsError(try LlamaFactoryExporter(config: FineTuneConfig(), options: options).write(texts + examples, to: directory)) { error in
            XCTAssertEqual("\(error)", "cannot write dataset: chat and raw-text examples are mixed; LLaMA-Factory trains them in different stages (sft, pt)")
        }
    }

    func testYAMLScalarsReadBackAsTheirTypes() {
        XCTAssertEqual(LlamaFactoryYAML.float(1e-4), "0.0001")
        XCTAssertEqual(LlamaFactoryYAML.float(1e-5), "1.0e-05")
        XCTAssertEqual(LlamaFactoryYAML.float(2.5e-7), "2.5e-07")
        XCTAssertEqual(LlamaFactoryYAML.float(1e20), "1.0e+20")
        XCTAssertEqual(LlamaFactoryYAML.float(3), "3.0")
        XCTAssertEqual(LlamaFactoryYAML.render(.string("no")), "\"no\"")
        XCTAssertEqual(LlamaFactoryYAML.render(.string("a: b # c\n\"d\"")), "\"a: b # c\\n\\\"d\\\"\"")
        var yaml = LlamaFactoryYAML()
        yaml.set("a", .integer(1), section: "s")
        yaml.set("b", .bool(false))
        yaml.set("a", .integer(2))
        XCTAssertEqual(yaml.text(header: ["h"]), "# h\n\n### s\na: 2\nb: false\n")
    }

    func testBadExportSettingsAreNamed() throws {
        var config = FineTuneConfig()
        config.loraAlpha = 16.5
        let options = LlamaFactoryExporter.Options(modelNameOrPath: "m", template: "qwen")
        XCTAssertThrowsError(try LlamaFactoryExporter(config: config, options: options).yaml()) { error in
            XCTAssertEqual("\(error)", "invalid training parameter: --lora-alpha 16.5: LLaMA-Factory's lora_alpha is an integer")
        }
        XCTAssertThrowsError(try DeepSpeedConfig(stage: 1)) { error in
            XCTAssertEqual("\(error)", "invalid training parameter: --zero-stage must be 2 or 3, got 1")
        }
        XCTAssertThrowsError(try LlamaFactoryExporter(config: FineTuneConfig(), options: .init(modelNameOrPath: "m", template: "qwen\nx")).yaml())
    }

    func testTemplateNames() {
        XCTAssertEqual(LlamaFactoryTemplate.name(chatTemplate: "{{ '<|start_header_id|>' }}"), "llama3")
        XCTAssertEqual(LlamaFactoryTemplate.name(chatTemplate: "<|im_start|>", architecture: "qwen2"), "qwen")
        XCTAssertEqual(LlamaFactoryTemplate.name(chatTemplate: "<|im_start|>system\nYou are SmolLM"), "smollm2")
        XCTAssertEqual(LlamaFactoryTemplate.name(chatTemplate: "<|im_start|>"), "chatml")
        XCTAssertEqual(LlamaFactoryTemplate.name(chatTemplate: "[INST]"), "mistral")
        XCTAssertNil(LlamaFactoryTemplate.name(chatTemplate: "User: {{ m }}"))
        XCTAssertNil(LlamaFactoryTemplate.name(chatTemplate: nil))
    }
}
