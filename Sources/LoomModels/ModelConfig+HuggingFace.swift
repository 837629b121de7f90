import LoomFormats
import LoomKernels

extension ModelConfig {
    /// The config of an HF directory of one of the ``ArchitectureRegistry``'s architectures.
    /// HF checkpoints keep Q/K rows unpermuted, so RoPE pairs are half-split for all of them.
    /// Linear scaling maps to a position scale; llama3 scaling becomes per-pair frequency
    /// factors (see ``ropeFrequencyFactors(for:)``); YaRN to ``YarnScaling``; dynamic NTK and
    /// LongRoPE to ``DynamicRopeScaling``.
    public init(huggingFace c: HFModelConfig, path: String) throws {
        architecture = c.architecture
        feedForwardActivation = c.architecture.feedForwardActivation
        ropeLayout = .halfSplit
        name = c.modelType ?? c.architecture.name
        layerCount = c.numHiddenLayers
        embeddingSize = c.hiddenSize
        feedForwardSize = c.intermediateSize
        headCount = c.numAttentionHeads
        kvHeadCount = c.numKeyValueHeads
        headDim = c.headDim
        ropeDimensions = c.ropeDimensions
        ropeBase = c.ropeTheta
        rmsEpsilon = Float(c.rmsNormEps)
        guard rmsEpsilon.isFinite, rmsEpsilon > 0 else {
            throw ModelError.invalidMetadata(key: "rms_norm_eps", reason: "\(c.rmsNormEps) is not a positive Float32 number", path: path)
        }
        contextLength = c.maxPositionEmbeddings
        // The same plausibility bound as a GGUF file's sizes (2^28 positions: 64× Gradient's 4M).
        guard contextLength < 1 << 28 else {
            throw ModelError.invalidMetadata(key: "max_position_embeddings", reason: "\(contextLength) is not a plausible context length", path: path)
        }
        tiedOutput = c.tieWordEmbeddings
        slidingWindow = c.slidingWindow
        vocabularySize = c.vocabSize
        switch c.ropeScaling {
        case nil, .llama3?: ropePositionScale = 1
        case let .linear(factor)?: ropePositionScale = factor > 0 ? 1 / factor : 1
        case let .yarn(factor, original, attention, betaFast, betaSlow, mscale, mscaleAllDim)?:
            ropePositionScale = 1
            ropeYarn = YarnScaling(factor: factor, originalContext: original ?? c.maxPositionEmbeddings,
                                   attentionFactor: attention, betaFast: betaFast, betaSlow: betaSlow,
                                   mscale: mscale, mscaleAllDim: mscaleAllDim)
        case let .dynamic(factor, _)?:
            // transformers measures dynamic NTK against max_position_embeddings (its
            // `original_max_position_embeddings` is not read for this type).
            ropePositionScale = 1
            ropeDynamic = .ntk(factor: factor, trainedContext: c.maxPositionEmbeddings)
        case let .longrope(short, long, factor, original, attention)?:
            ropePositionScale = 1
            let originalContext = original ?? c.originalMaxPositionEmbeddings ?? c.maxPositionEmbeddings
            let extension_ = factor ?? Double(c.maxPositionEmbeddings) / Double(originalContext)
            ropeDynamic = .longrope(short: short, long: long, originalContext: originalContext,
                                    attentionFactor: attention ?? DynamicRopeScaling.longropeAttentionFactor(
                                        factor: extension_, originalContext: originalContext))
        }
        // The forward pass applies q/k/v biases only; refuse rather than silently drop others.
        if c.mlpBias {
            throw ModelError.invalidMetadata(key: "mlp_bias", reason: "MLP biases are not supported", path: path)
        }
        if c.architecture.qkvBias == .configured && c.attentionBias {
            throw ModelError.invalidMetadata(
                key: "attention_bias", reason: "\(c.architecture) attention_bias adds an o_proj bias, which is not supported", path: path)
        }
        guard headCount % kvHeadCount == 0 else {
            throw ModelError.invalidMetadata(key: "num_key_value_heads",
                reason: "\(headCount) query heads cannot be shared evenly by \(kvHeadCount) KV heads", path: path)
        }
    }

    /// Llama 3.1-style per-pair RoPE divisors for an HF config with `rope_type: llama3`
    /// (what GGUF stores as `rope_freqs.weight`), else nil.
    public static func ropeFrequencyFactors(for c: HFModelConfig) -> [Float]? {
        guard case let .llama3(factor, low, high, original)? = c.ropeScaling else { return nil }
        return HFToGGUFConverter.llama3RopeFactors(base: c.ropeTheta, dim: c.headDim, factor: factor,
                                                    lowFreqFactor: low, highFreqFactor: high, originalContext: original)
    }
}
