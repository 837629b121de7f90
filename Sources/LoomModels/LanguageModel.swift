import Foundation
import LoomFormats
import LoomKernels
import LoomTokenizer

/// A decoder-only language model loaded from a GGUF file or a Hugging Face directory
/// (`config.json` + safetensors + `tokenizer.json`): config, weights (memory-mapped,
/// multiplied in place — BF16/F16 included), tokenizer and chat template. Immutable and
/// shareable; evaluation state lives in ``InferenceSession``.
///
/// ```swift
/// let model = try LanguageModel(path: "SmolLM2-135M-Instruct.Q4_1.gguf")   // or an HF directory
/// let session = try model.makeSession()
/// let logits = try session.evaluate(model.tokenizer.encode("The capital of France is"))
/// ```
public final class LanguageModel: @unchecked Sendable {
    /// The GGUF file, when the model was loaded from one.
    public let file: GGUFFile?
    /// The safetensors checkpoint, when the model was loaded from an HF directory.
    public let checkpoint: SafetensorsCheckpoint?
    public let config: ModelConfig
    /// The weights, with whatever adapters are attached to their projections.
    public private(set) var weights: DecoderWeights
    public let tokenizer: BPETokenizer
    public let rope: RotaryEmbedding
    /// The Jinja chat template the model ships, if any.
    public let chatTemplate: String?
    /// Sampling defaults from `generation_config.json` (HF directories only).
    public let generationDefaults: HFGenerationConfig?
    /// The file or directory the model was loaded from.
    public let path: String
    /// LoRA adapters attached to the projections, in attach order
    /// (``attachLoRA(_:scale:)``, ``detachLoRA(id:)``).
    public internal(set) var loraAdapters: [LoRAAttachment] = []
    /// The KV cache types sessions and batches of this model use unless given others
    /// (``makeSession(contextLength:pool:options:cacheTypes:)``): f16 by default, as in
    /// llama.cpp. Commands set it from `--cache-type-k/-v` once, after loading.
    public var cacheTypes: KVCacheTypes = .default
    /// The base norm weights an attached adapter replaced (its ``LoRAAdapter/norms``), by
    /// attachment id then GGUF name, restored when it is detached.
    var replacedNorms: [Int: [String: [Float]]] = [:]

    /// Opens and checks a GGUF file or an HF model directory; fails with a ``ModelError``,
    /// `GGUFError`, `SafetensorsError`, `HFConfigError` or `TokenizerError` naming the file
    /// and the offending key or tensor.
    ///
    /// `rope` overrides the stored RoPE θ and linear scale (long-context runs).
    public init(path: String, rope overrides: RopeOverrides = RopeOverrides()) throws {
        self.path = path
        try overrides.validate(path: path)
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            let hfConfig = try HFModelConfig(path: (path as NSString).appendingPathComponent("config.json"))
            let checkpoint = try SafetensorsCheckpoint(directory: path)
            let bundle = try HFTokenizerBundle.load(path: path)
            file = nil
            self.checkpoint = checkpoint
            var config = try ModelConfig(huggingFace: hfConfig, path: path)
            try overrides.apply(to: &config, path: path)
            self.config = config
            weights = try DecoderWeights(binder: TensorBinder(checkpoint: checkpoint, naming: config.architecture.tensorNames, path: path,
                                                                bitNet: hfConfig.bitNet), config: config,
                                         ropeFrequencyFactors: ModelConfig.ropeFrequencyFactors(for: hfConfig))
            tokenizer = bundle.tokenizer
            chatTemplate = bundle.chatTemplateSource
            generationDefaults = bundle.generation
        } else {
            let file = try GGUFFile(path: path)
            self.file = file
            checkpoint = nil
            var config = try ModelConfig(gguf: file)
            let weights = try DecoderWeights(file: file, config: config)
            if let factors = weights.ropeLongRopeFactors {
                config.ropeDynamic = try ModelConfig.ggufLongRope(file, config: config, long: factors.long, short: factors.short)
            }
            try overrides.apply(to: &config, path: path)
            self.config = config
            self.weights = weights
            tokenizer = try BPETokenizer(gguf: file)
            chatTemplate = file["tokenizer.chat_template"]?.stringValue
            generationDefaults = nil
        }
        rope = RotaryEmbedding(
            layout: config.ropeLayout, dimensions: config.ropeDimensions, base: config.ropeBase,
            frequencyFactors: config.ropeYarn?.frequencyDivisors(base: config.ropeBase, dimensions: config.ropeDimensions)
                ?? Self.pairFactors(config.ropePairFactors, stored: weights.ropeFrequencyFactors),
            positionScale: config.ropePositionScale, magnitude: Float(config.ropeYarn?.magnitude ?? 1))
    }

    static func pairFactors(_ source: RopePairFactors, stored: [Float]?) -> [Float]? {
        switch source {
        case .stored: return stored
        case .dropped: return nil
        case .custom(let factors): return factors
        }
    }

    /// The rotary embedding for positions `start ..< end` of the sequence in `cache`: ``rope``
    /// unless the model's scaling is dynamic (``ModelConfig/ropeDynamic``), in which case the
    /// cache's ``KVCache/ropeLength`` is grown as transformers grows its frequencies (and
    /// restarted when `start` is 0, a new sequence).
    func rotaryEmbedding(for cache: KVCache, start: Int, end: Int) -> RotaryEmbedding {
        guard let dynamic = config.ropeDynamic else { return rope }
        cache.ropeLength = dynamic.grownLength(previous: start == 0 ? 0 : cache.ropeLength, end: end)
        return dynamic.rotaryEmbedding(length: cache.ropeLength, layout: config.ropeLayout,
                                       dimensions: config.ropeDimensions, base: config.ropeBase, positionScale: config.ropePositionScale)
    }

    /// The rotary embedding of a whole sequence of `length` positions evaluated at once (the
    /// trainer's forward pass): ``rope``, or the dynamic scaling's frequencies for `length`.
    public func rotaryEmbedding(sequenceLength length: Int) -> RotaryEmbedding {
        guard let dynamic = config.ropeDynamic else { return rope }
        return dynamic.rotaryEmbedding(length: dynamic.grownLength(previous: 0, end: length), layout: config.ropeLayout,
                                       dimensions: config.ropeDimensions, base: config.ropeBase, positionScale: config.ropePositionScale)
    }

    /// Changes the model's projections in place — attaches or detaches adapters
    /// (``Projection/adapters``) without reloading the base weights. Call it while no session
    /// of this model is evaluating: sessions read the projections on every step.
    public func updateProjections(_ body: (inout DecoderWeights) throws -> Void) rethrows {
        try body(&weights)
    }

    /// A fresh evaluation state (KV cache and scratch) of `contextLength` positions
    /// (default: the trained context, capped at 4096 to bound memory). `options` picks
    /// kernels (``KernelOptions``); the defaults are the measured fastest.
    /// The KV cache stores `cacheTypes` (default: the model's ``cacheTypes``).
    public func makeSession(contextLength: Int? = nil, pool: ThreadPool = ThreadPool(),
                            options: KernelOptions = .default, cacheTypes: KVCacheTypes? = nil) throws -> InferenceSession {
        let capacity = contextLength ?? min(config.contextLength, 4096)
        guard capacity > 0 else {
            throw ModelError.invalidMetadata(key: "context length", reason: "\(capacity) must be positive", path: path)
        }
        let types = cacheTypes ?? self.cacheTypes
        try types.check(headDim: config.headDim, path: path)
        try MemoryPlan.checkKVCache(layers: config.layerCount, positions: capacity, rowSize: config.kvHeadCount * config.headDim,
                                    types: types)
        return InferenceSession(model: self, capacity: capacity, pool: pool, options: options, cacheTypes: types)
    }
}

extension LanguageModel {
    /// Whether any RoPE scaling stretches the model past its trained positions (linear, YaRN,
    /// dynamic NTK, LongRoPE, Llama 3.1 factors), the model's own or an override's.
    public var hasRopeScaling: Bool {
        config.ropePositionScale != 1 || config.ropeYarn != nil || config.ropeDynamic != nil
            || Self.pairFactors(config.ropePairFactors, stored: weights.ropeFrequencyFactors) != nil
    }

    /// A warning naming the problem when a context of `context` positions is longer than the
    /// model was trained for and nothing stretches RoPE (`ropeOverridden`: the user set θ or a
    /// scaling); nil when the context fits or scaling is in effect.
    public func contextWarning(context: Int, ropeOverridden: Bool) -> String? {
        guard context > config.contextLength, !ropeOverridden, !hasRopeScaling else { return nil }
        return "warning: a context of \(context) tokens exceeds \(config.name)'s trained context of \(config.contextLength) "
            + "and no RoPE scaling is set; positions past \(config.contextLength) are out of distribution "
            + "(extend with --rope-scaling yarn|dynamic|linear --rope-scale F, or --rope-theta)"
    }
}
