import LoomModels

extension FineTuneRun {
    /// What a checkpoint must share with the run that resumes it, as `name → value` so a
    /// mismatch names the field: the model (architecture, shape, a hash of some embedding
    /// rows), the data (count and a hash of every id, label and segment) and every
    /// hyper-parameter that changes the numbers (not gradient checkpointing, which only
    /// trades memory for time).
    static func fingerprint(model: LanguageModel, config c: FineTuneConfig, sequences: [TrainingSequence],
                            totalSteps: Int) -> [String: String] {
        let m = model.config
        var embedding = FNV1a()
        var row = [Float](repeating: 0, count: m.embeddingSize)
        for token in Set([0, m.vocabularySize / 2, m.vocabularySize - 1]).sorted() {
            row.withUnsafeMutableBufferPointer { model.weights.tokenEmbedding.dequantizeRow(token, into: $0.baseAddress!) }
            for value in row { embedding.add(UInt64(value.bitPattern)) }
        }
        var data = FNV1a()
        for s in sequences {
            data.add(UInt64(s.count))
            for i in 0..<s.count {
                data.add(UInt64(bitPattern: Int64(s.inputIDs[i])))
                data.add(UInt64(bitPattern: Int64(s.labels[i])))
                data.add(UInt64(bitPattern: Int64(s.segmentIDs[i])))
            }
        }
        let warmup: String
        switch c.warmup {
        case .steps(let n): warmup = "\(n) steps"
        case .ratio(let r): warmup = "ratio \(r)"
        }
        // Only when on, so checkpoints saved before the flag existed still resume.
        let norms = c.trainNorms ? ["--train-norms": "true"] : [:]
        return norms.merging([
            "model architecture": m.architecture.name,
            "model shape": "\(m.layerCount) layers, \(m.embeddingSize) wide, ffn \(m.feedForwardSize), \(m.headCount)/\(m.kvHeadCount) heads of \(m.headDim), vocabulary \(m.vocabularySize)",
            "model weights": embedding.hex,
            "data sequences": "\(sequences.count)",
            "data hash": data.hex,
            "--lora-r": "\(c.loraRank)", "--lora-alpha": "\(c.loraAlpha)", "--lora-dropout": "\(c.loraDropout)",
            "--use-rslora": "\(c.useRSLoRA)", "--target": c.targets.description, "--layers": c.layers.description,
            "--lr": "\(c.learningRate)", "--weight-decay": "\(c.weightDecay)", "--betas": "\(c.betas.0),\(c.betas.1)",
            "--eps": "\(c.epsilon)", "--schedule": c.schedule.rawValue, "--warmup": warmup, "--max-grad-norm": "\(c.maxGradNorm)",
            "--batch-size": "\(c.batchSize)", "--grad-accum": "\(c.gradientAccumulation)", "--cutoff-len": "\(c.cutoffLength)",
            "--packing": "\(c.packing)", "--truncation": c.truncation == .perTurn ? "per-turn" : "keep-start", "--precision": c.precision.rawValue,
            "--seed": "\(c.seed)", "total steps": "\(totalSteps)",
        ]) { $1 }
    }
}
