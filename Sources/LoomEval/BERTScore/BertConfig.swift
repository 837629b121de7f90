import Foundation

/// The `config.json` fields of a Hugging Face `BertModel` that the encoder needs.
public struct BertConfig: Sendable, Equatable, Codable {
    public var vocabSize: Int
    public var hiddenSize: Int
    public var layerCount: Int
    public var headCount: Int
    public var intermediateSize: Int
    public var maxPositions: Int
    public var typeVocabSize: Int
    public var layerNormEpsilon: Float

    public init(vocabSize: Int, hiddenSize: Int, layerCount: Int, headCount: Int, intermediateSize: Int,
                maxPositions: Int = 512, typeVocabSize: Int = 2, layerNormEpsilon: Float = 1e-12) {
        self.vocabSize = vocabSize
        self.hiddenSize = hiddenSize
        self.layerCount = layerCount
        self.headCount = headCount
        self.intermediateSize = intermediateSize
        self.maxPositions = maxPositions
        self.typeVocabSize = typeVocabSize
        self.layerNormEpsilon = layerNormEpsilon
    }

    /// Reads `config.json`; rejects what this encoder does not implement (a non-GELU
    /// activation, relative position embeddings) instead of computing something else.
    public init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw EvalError.invalidParameter("cannot read the BERT config \(path)")
        }
        let object: [String: Any]
        do {
            guard let o = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw EvalError.invalidParameter("\(path): not a JSON object")
            }
            object = o
        } catch let error as EvalError {
            throw error
        } catch {
            throw EvalError.invalidParameter("\(path): malformed JSON (\(error.localizedDescription))")
        }
        func int(_ key: String, default value: Int? = nil) throws -> Int {
            // Below 2^28 like every other size Loom reads from a file, so shape products
            // cannot overflow and a hostile count cannot reserve gigabytes.
            if let v = object[key] as? Int, v > 0, v < 1 << 28 { return v }
            if object[key] == nil, let value { return value }
            throw EvalError.invalidParameter("\(path): \"\(key)\" must be a positive integer below 2^28, got \(object[key].map { "\($0)" } ?? "nothing")")
        }
        if let act = object["hidden_act"] as? String, act != "gelu" {
            throw EvalError.invalidParameter("\(path): hidden_act \"\(act)\" is not supported (exact erf GELU only)")
        }
        if let kind = object["position_embedding_type"] as? String, kind != "absolute" {
            throw EvalError.invalidParameter("\(path): position_embedding_type \"\(kind)\" is not supported (absolute only)")
        }
        self.init(vocabSize: try int("vocab_size"), hiddenSize: try int("hidden_size"),
                  layerCount: try int("num_hidden_layers"), headCount: try int("num_attention_heads"),
                  intermediateSize: try int("intermediate_size"),
                  maxPositions: try int("max_position_embeddings", default: 512),
                  typeVocabSize: try int("type_vocab_size", default: 2),
                  layerNormEpsilon: Float((object["layer_norm_eps"] as? Double) ?? 1e-12))
        guard hiddenSize % headCount == 0 else {
            throw EvalError.invalidParameter("\(path): hidden_size \(hiddenSize) is not a multiple of num_attention_heads \(headCount)")
        }
    }
}
