import ArgumentParser
import Foundation
import LoomFormats
import LoomHub
import LoomTokenizer

/// `loom tokenize`: show how a model's tokenizer splits text.
struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize", abstract: "Print the token ids (and pieces) of a text.")

    @Option(name: [.short, .customLong("model")], help: "GGUF file or model name (default: smollm2).")
    var model: String?
    @Option(help: "A Hugging Face tokenizer.json file or model directory to use instead of a model.")
    var tokenizer: String?
    @Flag(help: "Print a JSON array of {id, piece} objects.") var json = false
    @Flag(help: "Do not add BOS/EOS even where the model's metadata asks for them.") var noSpecial = false
    @Flag(help: "Treat special-token text like <|im_start|> as plain text.") var noParseSpecial = false
    @Argument(help: "The text (use - to read standard input).") var text: String

    func run() throws {
        let input = text == "-" ? String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self) : text
        let tokenizer = try loadTokenizer(model: model, huggingFace: self.tokenizer)
        let ids = tokenizer.encode(input, addSpecial: !noSpecial, parseSpecial: !noParseSpecial)
        if json {
            let items = ids.map { ["id": $0 as Any, "piece": tokenizer.piece($0)] }
            let data = try JSONSerialization.data(withJSONObject: items, options: [.sortedKeys, .withoutEscapingSlashes])
            StandardOutput.write(String(decoding: data, as: UTF8.self) + "\n")
        } else {
            for id in ids {
                StandardOutput.write("\(id)\t\(tokenizer.piece(id))\n")
            }
        }
    }
}

/// `loom detokenize`: turn token ids back into text.
struct DetokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "detokenize", abstract: "Print the text of token ids.")

    @Option(name: [.short, .customLong("model")], help: "GGUF file or model name (default: smollm2).")
    var model: String?
    @Option(help: "A Hugging Face tokenizer.json file or model directory to use instead of a model.")
    var tokenizer: String?
    @Argument(help: "Token ids.") var ids: [Int]

    func run() throws {
        let tokenizer = try loadTokenizer(model: model, huggingFace: self.tokenizer)
        if let bad = ids.first(where: { $0 < 0 || $0 >= tokenizer.vocabularySize }) {
            throw ValidationError("token id \(bad) is outside the vocabulary (0..<\(tokenizer.vocabularySize))")
        }
        StandardOutput.write(tokenizer.decode(ids) + "\n")
    }
}

/// The tokenizer of a GGUF model, or of a Hugging Face tokenizer.json / directory.
func loadTokenizer(model: String?, huggingFace: String?) throws -> BPETokenizer {
    if let huggingFace {
        if model != nil { throw ValidationError("give either -m or --tokenizer, not both") }
        // A catalog name (llama3-tokenizer) is fetched like a model.
        return try HFTokenizerBundle.load(path: ModelLocator.resolve(huggingFace)).tokenizer
    }
    return try BPETokenizer(gguf: GGUFFile(path: ModelLocator.resolve(model)))
}
