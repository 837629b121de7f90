import ArgumentParser
import LoomModels
import LoomServer

/// `--embedding-model` and `--pooling`, shared by `loom serve` and `loom embed`.
struct EmbeddingOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "The embedding model: minilm (all-MiniLM-L6-v2, fetched on first use), a BERT directory or .safetensors, decoder (the served model's pooled hidden states) or none.",
        valueName: "minilm|PATH|decoder|none"))
    var embeddingModel: String?

    @Option(help: ArgumentHelp("Pooling of token states: mean, last (decoder models) or cls (default: mean, or the encoder's 1_Pooling config).",
                               valueName: "mean|last|cls"))
    var pooling: String?

    func validate() throws {
        if let pooling, EmbeddingPooling(rawValue: pooling) == nil {
            throw ValidationError("--pooling must be mean, last or cls, got \"\(pooling)\"")
        }
        if embeddingModel?.isEmpty == true { throw ValidationError("--embedding-model must not be empty") }
    }

    var poolingChoice: EmbeddingPooling? { pooling.flatMap(EmbeddingPooling.init(rawValue:)) }

    /// What `loom serve` embeds with (default: MiniLM).
    var serverChoice: EmbeddingModelChoice {
        switch embeddingModel ?? "minilm" {
        case "none": return .none
        case "decoder": return .decoder(pooling: poolingChoice ?? .mean)
        case "minilm" where pooling == nil: return .miniLM
        case let other: return .encoder(path: other, pooling: poolingChoice)
        }
    }
}
