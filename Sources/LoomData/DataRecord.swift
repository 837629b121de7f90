import LoomJinja
import OrderedCollections

/// One document of a `loom data` corpus: a line of JSONL `{"id", "source", "text", …}`.
///
/// Fields other than the three named ones (metadata a stage adds, or fields of an imported
/// corpus) are kept in order and written back unchanged.
public struct DataRecord: Sendable, Equatable {
    /// A stable id (see `DocumentIngester.documentID`).
    public var id: String
    /// Where the document came from: a file path, with `#n` for the n-th record of a file.
    public var source: String
    /// The document's text.
    public var text: String
    /// Every other field, in order.
    public var extra: JSONObject

    /// Creates a record.
    public init(id: String, source: String, text: String, extra: JSONObject = [:]) {
        self.id = id
        self.source = source
        self.text = text
        self.extra = extra
    }

    public static func == (a: DataRecord, b: DataRecord) -> Bool {
        a.id == b.id && a.source == b.source && a.text == b.text
            && JSONWriter.string(.object(a.extra)) == JSONWriter.string(.object(b.extra))
    }

    /// Parses one JSONL line. `text` is required; `id` and `source` default to empty strings.
    public init(jsonLine bytes: [UInt8]) throws {
        let value: JSONValue
        do { value = try JSONParser.parse(bytes) } catch { throw DataError("\(error)") }
        guard case .object(var members) = value else { throw DataError("a record must be a JSON object, not \(value.kindDescription)") }
        guard case .string(let text)? = members.removeValue(forKey: "text") else {
            throw DataError("a record needs a string field \"text\"")
        }
        var id = ""
        var source = ""
        if let v = members.removeValue(forKey: "id") {
            switch v {
            case .string(let s): id = s
            case .integer(let i): id = String(i)
            default: throw DataError("the field \"id\" must be a string, not \(v.kindDescription)")
            }
        }
        if let v = members.removeValue(forKey: "source") {
            guard case .string(let s) = v else { throw DataError("the field \"source\" must be a string, not \(v.kindDescription)") }
            source = s
        }
        self.init(id: id, source: source, text: text, extra: members)
    }

    /// Appends the record as one JSON line (with its newline) to `out`.
    public func writeJSONLine(into out: inout [UInt8]) {
        out.append(contentsOf: "{\"id\":".utf8)
        JSONWriter.writeString(id, into: &out)
        out.append(contentsOf: ",\"source\":".utf8)
        JSONWriter.writeString(source, into: &out)
        out.append(contentsOf: ",\"text\":".utf8)
        JSONWriter.writeString(text, into: &out)
        for (key, value) in extra {
            out.append(UInt8(ascii: ","))
            JSONWriter.writeString(key, into: &out)
            out.append(UInt8(ascii: ":"))
            JSONWriter.write(value, into: &out)
        }
        out.append(contentsOf: "}\n".utf8)
    }

    /// The record as one JSON line, without the newline.
    public var jsonLine: String {
        var out: [UInt8] = []
        writeJSONLine(into: &out)
        out.removeLast()
        return String(decoding: out, as: UTF8.self)
    }
}
