import LoomJinja

/// A DeepSpeed ZeRO-2 or ZeRO-3 configuration for a LLaMA-Factory run, optionally offloading
/// to CPU memory (`--offload`).
///
/// The content is LLaMA-Factory's own `examples/deepspeed/ds_z2_config.json`,
/// `ds_z2_offload_config.json`, `ds_z3_config.json` and `ds_z3_offload_config.json`: batch
/// sizes, accumulation, clipping and fp16/bf16 are `"auto"`, so the transformers integration
/// fills them from the YAML's training arguments and the two files cannot disagree.
public struct DeepSpeedConfig: Sendable, Equatable {
    /// ZeRO stage: 2 (optimizer state and gradients partitioned) or 3 (parameters too).
    public let stage: Int
    /// Optimizer state (and with ZeRO-3 parameters) kept in CPU memory.
    public let offload: Bool

    /// - Throws: ``TrainingError/invalidParameter(_:)`` for a stage other than 2 or 3.
    public init(stage: Int, offload: Bool = false) throws {
        guard stage == 2 || stage == 3 else {
            throw TrainingError.invalidParameter("--zero-stage must be 2 or 3, got \(stage)")
        }
        self.stage = stage
        self.offload = offload
    }

    /// LLaMA-Factory's file name for this configuration (`ds_z3_offload_config.json`, …).
    public var fileName: String { "ds_z\(stage)\(offload ? "_offload" : "")_config.json" }

    /// The configuration as JSON.
    public var json: JSONValue {
        let cpu: JSONValue = .object(["device": .string("cpu"), "pin_memory": .bool(true)])
        var zero: JSONObject = ["stage": .integer(stage)]
        if offload {
            zero["offload_optimizer"] = cpu
            if stage == 3 { zero["offload_param"] = cpu }
        }
        if stage == 2 {
            zero["allgather_partitions"] = .bool(true)
            zero["allgather_bucket_size"] = .integer(500_000_000)
            zero["overlap_comm"] = .bool(false)
            zero["reduce_scatter"] = .bool(true)
            zero["reduce_bucket_size"] = .integer(500_000_000)
            zero["contiguous_gradients"] = .bool(true)
            zero["round_robin_gradients"] = .bool(true)
        } else {
            zero["overlap_comm"] = .bool(false)
            zero["contiguous_gradients"] = .bool(true)
            zero["sub_group_size"] = .integer(1_000_000_000)
            zero["reduce_bucket_size"] = .string("auto")
            zero["stage3_prefetch_bucket_size"] = .string("auto")
            zero["stage3_param_persistence_threshold"] = .string("auto")
            zero["stage3_max_live_parameters"] = .integer(1_000_000_000)
            zero["stage3_max_reuse_distance"] = .integer(1_000_000_000)
            zero["stage3_gather_16bit_weights_on_model_save"] = .bool(true)
        }
        return .object([
            "train_batch_size": .string("auto"),
            "train_micro_batch_size_per_gpu": .string("auto"),
            "gradient_accumulation_steps": .string("auto"),
            "gradient_clipping": .string("auto"),
            "zero_allow_untested_optimizer": .bool(true),
            "fp16": .object([
                "enabled": .string("auto"), "loss_scale": .integer(0), "loss_scale_window": .integer(1000),
                "initial_scale_power": .integer(16), "hysteresis": .integer(2), "min_loss_scale": .integer(1),
            ]),
            "bf16": .object(["enabled": .string("auto")]),
            "zero_optimization": .object(zero),
        ])
    }

    /// The file's text.
    public var text: String { JSONText.pretty(json) + "\n" }
}
