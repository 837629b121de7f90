import Foundation
import LoomJinja

/// A JSON value together with the file it came from and its path inside that file, so that
/// every type or range check can throw a `TokenizerError.invalidFile` that names both
/// (e.g. `tokenizer.json: model.merges[12]: expected a string or a pair, found a number`).
///
/// Not a parser of its own: the bytes are parsed once by LoomJinja's `JSONParser`; this is
/// the typed view that the tokenizer.json, tokenizer_config.json and generation_config.json
/// readers share.
struct HFJSONNode {
    let value: JSONValue
    /// The file name shown in errors, e.g. "tokenizer.json".
    let file: String
    /// The JSON path, e.g. "model.vocab" or "added_tokens[3].id"; empty for the document root.
    let path: String

    /// Reads and parses a JSON file; unreadable files and syntax errors name `displayName`.
    static func load(path filePath: String, displayName: String) throws -> HFJSONNode {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: filePath))
        } catch {
            throw TokenizerError.invalidFile(file: displayName, path: "", reason: "cannot read \(filePath): \(error.localizedDescription)")
        }
        return try parse(bytes: [UInt8](data), displayName: displayName)
    }

    /// Parses JSON text held in memory.
    static func parse(bytes: [UInt8], displayName: String) throws -> HFJSONNode {
        do {
            return HFJSONNode(value: try JSONParser.parse(bytes), file: displayName, path: "")
        } catch let error as JSONSyntaxError {
            throw TokenizerError.invalidFile(file: displayName, path: "", reason: error.description)
        }
    }

    /// An error about this value.
    func failure(_ reason: String) -> TokenizerError {
        TokenizerError.invalidFile(file: file, path: path, reason: reason)
    }

    /// An error about the member `key` of this object (which may be absent).
    func failure(member key: String, _ reason: String) -> TokenizerError {
        TokenizerError.invalidFile(file: file, path: childPath(key), reason: reason)
    }

    private func childPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func child(_ key: String, _ value: JSONValue) -> HFJSONNode {
        HFJSONNode(value: value, file: file, path: childPath(key))
    }

    func element(_ index: Int, _ value: JSONValue) -> HFJSONNode {
        HFJSONNode(value: value, file: file, path: "\(path)[\(index)]")
    }

    private func expected(_ what: String) -> TokenizerError {
        failure("expected \(what), found \(value.kindDescription)")
    }

    var isNull: Bool { if case .null = value { return true } else { return false } }

    // MARK: - Typed access

    /// The members of an object.
    func object() throws -> JSONObject {
        guard case .object(let o) = value else { throw expected("an object") }
        return o
    }

    /// Member `key`, which must be present and not null.
    func member(_ key: String) throws -> HFJSONNode {
        guard let node = try optionalMember(key) else { throw failure(member: key, "required field is missing") }
        return node
    }

    /// Member `key`, or nil when it is absent or null.
    func optionalMember(_ key: String) throws -> HFJSONNode? {
        guard let v = try object()[key] else { return nil }
        if case .null = v { return nil }
        return child(key, v)
    }

    func string() throws -> String {
        guard case .string(let s) = value else { throw expected("a string") }
        return s
    }

    func bool() throws -> Bool {
        guard case .bool(let b) = value else { throw expected("a bool") }
        return b
    }

    /// An integer (a JSON number with an integral value that fits in `Int`).
    func int() throws -> Int {
        switch value {
        case .integer(let i): return i
        case .number(let d) where d == d.rounded() && abs(d) < 9.0e15: return Int(d)
        case .number: throw failure("expected an integer, found a non-integral or out-of-range number")
        default: throw expected("an integer")
        }
    }

    func double() throws -> Double {
        switch value {
        case .integer(let i): return Double(i)
        case .number(let d): return d
        default: throw expected("a number")
        }
    }

    func array() throws -> [HFJSONNode] {
        guard case .array(let a) = value else { throw expected("an array") }
        return a.enumerated().map { element($0.offset, $0.element) }
    }

    /// The `type` member of an object such as `{"type": "ByteLevel", …}`.
    func typeName() throws -> String { try member("type").string() }

    // MARK: - Optional members with defaults

    func optionalString(_ key: String) throws -> String? { try optionalMember(key)?.string() }
    func optionalBool(_ key: String) throws -> Bool? { try optionalMember(key)?.bool() }
    func optionalInt(_ key: String) throws -> Int? { try optionalMember(key)?.int() }
    func optionalDouble(_ key: String) throws -> Double? { try optionalMember(key)?.double() }
}
