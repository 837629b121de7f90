import Foundation
import LoomJinja

/// The GGUF `tokenizer.*` metadata of a byte-level BPE `tokenizer.json` (+
/// `tokenizer_config.json`), as llama.cpp's converter writes it: tokens in id order, merges,
/// token types (CONTROL for special added tokens, USER_DEFINED for other added tokens, NORMAL
/// otherwise), special token ids and the chat template. This only transcribes the files; it is
/// not a tokenizer.
public struct HFTokenizerMetadata {
    public var tokens: [String]
    public var tokenTypes: [Int32]
    public var merges: [String]
    public var bosTokenId: Int?
    public var eosTokenId: Int?
    public var padTokenId: Int?
    public var addBOS: Bool?
    public var chatTemplate: String?

    /// Reads `tokenizer.json` and, if present, `tokenizer_config.json` from `directory`.
    public init(directory: String) throws {
        let path = (directory as NSString).appendingPathComponent("tokenizer.json")
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw HFConfigError(path: path, field: nil, reason: "cannot read: \(error.localizedDescription)")
        }
        let top = HFJSONReader(object: try HFJSONReader.load(data: data, path: path, maxBytes: 200 << 20), path: path)
        guard let model = try top.objectValue("model") else { throw top.fail("model", "is missing") }
        let m = HFJSONReader(object: model, path: path, prefix: "model.")
        guard try m.string("type") == "BPE" else { throw m.fail("type", "only BPE tokenizers can be converted") }
        guard let vocab = try m.objectValue("vocab") else { throw m.fail("vocab", "is missing") }
        var byId: [Int: String] = [:]
        for (piece, v) in vocab {
            guard let id = HFJSONReader.exactInteger(v), id >= 0, id < 10_000_000 else {
                throw m.fail("vocab", "id of '\(piece)' is not a valid id")
            }
            byId[id] = piece
        }
        var special: Set<Int> = [], added: Set<Int> = []
        for (i, item) in (try top.array("added_tokens") ?? []).enumerated() {
            guard case .object(let t) = item, let id = t["id"].flatMap(HFJSONReader.exactInteger), id >= 0, id < 10_000_000,
                  case .string(let content)? = t["content"] else { throw top.fail("added_tokens[\(i)]", "needs an id and a content") }
            byId[id] = content
            added.insert(id)
            if case .bool(true)? = t["special"] { special.insert(id) }
        }
        let count = (byId.keys.max() ?? -1) + 1
        tokens = (0..<count).map { byId[$0] ?? "[PAD\($0)]" }
        tokenTypes = (0..<count).map { id in
            byId[id] == nil ? 5 : special.contains(id) ? 3 : added.contains(id) ? 4 : 1
        }
        var merges: [String] = []
        for (i, item) in (try m.array("merges") ?? []).enumerated() {
            if case .string(let s) = item {
                merges.append(s)
            } else if case .array(let pair) = item, pair.count == 2, case .string(let a) = pair[0], case .string(let b) = pair[1] {
                merges.append(a + " " + b)
            } else {
                throw m.fail("merges[\(i)]", "is neither \"a b\" nor [a, b]")
            }
        }
        self.merges = merges

        let configPath = (directory as NSString).appendingPathComponent("tokenizer_config.json")
        if let cdata = FileManager.default.contents(atPath: configPath) {
            let c = HFJSONReader(object: try HFJSONReader.load(data: cdata, path: configPath), path: configPath)
            func tokenId(_ key: String) -> Int? {
                let content: String
                switch c.present(key) {
                case .string(let s)?: content = s
                case .object(let o)?: guard case .string(let s)? = o["content"] else { return nil }; content = s
                default: return nil
                }
                return tokens.firstIndex(of: content)
            }
            bosTokenId = tokenId("bos_token")
            eosTokenId = tokenId("eos_token")
            padTokenId = tokenId("pad_token")
            addBOS = try? c.bool("add_bos_token")
            chatTemplate = try? c.string("chat_template")
        }
        // transformers 5 saves the template as chat_template.jinja beside tokenizer_config.json
        // (as the HF directory loader reads it, HFTokenizerSource); the config's own wins.
        let jinjaPath = (directory as NSString).appendingPathComponent("chat_template.jinja")
        if chatTemplate == nil, let data = FileManager.default.contents(atPath: jinjaPath) {
            guard let text = String(data: data, encoding: .utf8) else {
                throw HFConfigError(path: jinjaPath, field: nil, reason: "the chat template is not UTF-8 text")
            }
            chatTemplate = text
        }
    }
}
