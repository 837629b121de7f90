import Foundation
import LoomFormats
import LoomKernels

/// A BERT checkpoint's tensors as float pointers: F32 tensors point straight into the
/// memory-mapped safetensors file; other float types (F16, BF16) are widened once into
/// buffers this object owns. Immutable after loading, so shared freely between threads.
final class BertWeights: @unchecked Sendable {
    /// One encoder layer's parameters (Hugging Face `BertLayer` names in comments).
    struct Layer {
        let query: WeightMatrix, queryBias: UnsafePointer<Float>      // attention.self.query
        let key: WeightMatrix, keyBias: UnsafePointer<Float>          // attention.self.key
        let value: WeightMatrix, valueBias: UnsafePointer<Float>      // attention.self.value
        let output: WeightMatrix, outputBias: UnsafePointer<Float>    // attention.output.dense
        let attentionNorm: (weight: UnsafePointer<Float>, bias: UnsafePointer<Float>)  // attention.output.LayerNorm
        let intermediate: WeightMatrix, intermediateBias: UnsafePointer<Float>        // intermediate.dense
        let down: WeightMatrix, downBias: UnsafePointer<Float>        // output.dense
        let outputNorm: (weight: UnsafePointer<Float>, bias: UnsafePointer<Float>)     // output.LayerNorm
    }

    let file: SafetensorsFile
    let wordEmbeddings: UnsafePointer<Float>
    let positionEmbeddings: UnsafePointer<Float>
    let tokenTypeEmbeddings: UnsafePointer<Float>
    let embeddingNorm: (weight: UnsafePointer<Float>, bias: UnsafePointer<Float>)
    let layers: [Layer]
    private var owned: [UnsafeMutableBufferPointer<Float>] = []

    init(file: SafetensorsFile, config: BertConfig) throws {
        self.file = file
        // Checkpoints saved from BertForMaskedLM & co. carry a "bert." prefix.
        let prefix = file.tensor(named: "bert.embeddings.word_embeddings.weight") != nil ? "bert." : ""
        var owned: [UnsafeMutableBufferPointer<Float>] = []
        func floats(_ name: String, _ shape: [Int]) throws -> UnsafePointer<Float> {
            let full = prefix + name
            guard let info = file.tensor(named: full) else {
                throw EvalError.invalidParameter("\(file.path): tensor \(full) is missing")
            }
            guard info.shape == shape else {
                throw EvalError.invalidParameter("\(file.path): tensor \(full) has shape \(info.shape), expected \(shape)")
            }
            if info.dtype == .f32 {
                let bytes = file.data(info)
                guard let base = bytes.baseAddress, Int(bitPattern: base) % MemoryLayout<Float>.alignment == 0 else {
                    throw EvalError.invalidParameter("\(file.path): tensor \(full) is not 4-byte aligned in the file")
                }
                return base.assumingMemoryBound(to: Float.self)
            }
            guard info.dtype == .f16 || info.dtype == .bf16 else {
                throw EvalError.invalidParameter("\(file.path): tensor \(full) is \(info.dtype.rawValue); F32, F16 or BF16 expected")
            }
            let values = try file.floats(info)
            let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: values.count)
            _ = buffer.initialize(from: values)
            owned.append(buffer)
            return UnsafePointer(buffer.baseAddress!)
        }
        func matrix(_ name: String, rows: Int, columns: Int) throws -> WeightMatrix {
            WeightMatrix(type: .f32, rows: rows, columns: columns, base: UnsafeRawPointer(try floats(name, [rows, columns])))
        }
        let h = config.hiddenSize, ff = config.intermediateSize
        wordEmbeddings = try floats("embeddings.word_embeddings.weight", [config.vocabSize, h])
        positionEmbeddings = try floats("embeddings.position_embeddings.weight", [config.maxPositions, h])
        tokenTypeEmbeddings = try floats("embeddings.token_type_embeddings.weight", [config.typeVocabSize, h])
        embeddingNorm = (try floats("embeddings.LayerNorm.weight", [h]), try floats("embeddings.LayerNorm.bias", [h]))
        func layer(_ i: Int) throws -> Layer {
            let p = "encoder.layer.\(i)."
            return Layer(
                query: try matrix(p + "attention.self.query.weight", rows: h, columns: h),
                queryBias: try floats(p + "attention.self.query.bias", [h]),
                key: try matrix(p + "attention.self.key.weight", rows: h, columns: h),
                keyBias: try floats(p + "attention.self.key.bias", [h]),
                value: try matrix(p + "attention.self.value.weight", rows: h, columns: h),
                valueBias: try floats(p + "attention.self.value.bias", [h]),
                output: try matrix(p + "attention.output.dense.weight", rows: h, columns: h),
                outputBias: try floats(p + "attention.output.dense.bias", [h]),
                attentionNorm: (try floats(p + "attention.output.LayerNorm.weight", [h]), try floats(p + "attention.output.LayerNorm.bias", [h])),
                intermediate: try matrix(p + "intermediate.dense.weight", rows: ff, columns: h),
                intermediateBias: try floats(p + "intermediate.dense.bias", [ff]),
                down: try matrix(p + "output.dense.weight", rows: h, columns: ff),
                downBias: try floats(p + "output.dense.bias", [h]),
                outputNorm: (try floats(p + "output.LayerNorm.weight", [h]), try floats(p + "output.LayerNorm.bias", [h])))
        }
        // Bind layer by layer: `map` would reserve room for every layer the config claims first.
        var bound: [Layer] = []
        for i in 0..<config.layerCount {
            bound.append(try layer(i))
        }
        layers = bound
        self.owned = owned
    }

    deinit {
        for buffer in owned { buffer.deallocate() }
    }
}
