/// How a sequence of per-token hidden states becomes one embedding vector.
///
/// - `mean`: the average over every token (sentence-transformers' `Pooling(mode="mean")`,
///   llama.cpp's `--pooling mean`);
/// - `last`: the last token's state (llama.cpp's `--pooling last`, what decoder-only
///   embedding models such as Qwen3-Embedding and e5-mistral are trained for);
/// - `cls`: the first token's state (BERT's `[CLS]`, llama.cpp's `--pooling cls`).
public enum EmbeddingPooling: String, CaseIterable, Sendable, Codable {
    case mean, last, cls
}
