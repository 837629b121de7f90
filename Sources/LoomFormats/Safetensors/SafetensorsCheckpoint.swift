import Foundation
import LoomJinja

/// The safetensors weights of a Hugging Face model directory: either one `model.safetensors`
/// or shards listed by `model.safetensors.index.json` (`{"weight_map": {tensor: file}}`).
///
/// Every shard is mapped and validated on open; the index must name only plain file names in
/// the same directory, and each tensor must be in the shard the index says (and in one shard
/// only).
///
/// ```swift
/// let weights = try SafetensorsCheckpoint(directory: "/models/Qwen2-0.5B")
/// if let (file, info) = weights.tensor(named: "model.embed_tokens.weight") {
///     let bytes = file.data(info)
/// }
/// ```
public final class SafetensorsCheckpoint: @unchecked Sendable {
    /// Index file name inside a model directory.
    public static let indexFileName = "model.safetensors.index.json"
    /// Single-file checkpoint name inside a model directory.
    public static let singleFileName = "model.safetensors"

    /// The opened files (one, or the shards in file-name order).
    public let files: [SafetensorsFile]
    /// The index's `metadata` object values that are numbers or strings, as strings (empty
    /// for a single file).
    public let indexMetadata: [String: String]
    private let locations: [String: (file: Int, tensor: SafetensorsTensorInfo)]

    /// Opens the weights in `directory`: the sharded index if present, else `model.safetensors`.
    public convenience init(directory: String) throws {
        let index = (directory as NSString).appendingPathComponent(Self.indexFileName)
        if FileManager.default.fileExists(atPath: index) {
            try self.init(indexPath: index)
        } else {
            let single = (directory as NSString).appendingPathComponent(Self.singleFileName)
            guard FileManager.default.fileExists(atPath: single) else {
                throw SafetensorsError(path: directory, field: "file", reason: "neither \(Self.indexFileName) nor \(Self.singleFileName) exists")
            }
            try self.init(files: [SafetensorsFile(path: single)])
        }
    }

    /// Opens a single safetensors file or a list of files, whose tensor names must be distinct.
    public convenience init(files: [SafetensorsFile]) throws {
        try self.init(files: files, indexMetadata: [:])
    }

    init(files: [SafetensorsFile], indexMetadata: [String: String]) throws {
        self.files = files
        self.indexMetadata = indexMetadata
        var locations: [String: (file: Int, tensor: SafetensorsTensorInfo)] = [:]
        for (i, file) in files.enumerated() {
            for t in file.tensors {
                if let other = locations[t.name] {
                    throw SafetensorsError(path: file.path, tensor: t.name, reason: "also present in \(files[other.file].path)")
                }
                locations[t.name] = (i, t)
            }
        }
        self.locations = locations
    }

    /// Opens the shards listed in a `model.safetensors.index.json`.
    public convenience init(indexPath: String) throws {
        func fail(_ field: String, _ reason: String, tensor: String? = nil) -> SafetensorsError {
            SafetensorsError(path: indexPath, tensor: tensor, field: field, reason: reason)
        }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: indexPath)) } catch {
            throw fail("file", "cannot read: \(error.localizedDescription)")
        }
        guard data.count <= SafetensorsHeaderParser.maxHeaderLength else { throw fail("file", "index of \(data.count) bytes is too large") }
        let object: JSONValue
        do { object = try JSONParser.parse([UInt8](data)) } catch let e as JSONSyntaxError {
            throw fail("file", "invalid JSON at line \(e.line), column \(e.column) (byte \(e.offset)): \(e.message)")
        }
        guard case .object(let top) = object else { throw fail("file", "JSON is not an object") }
        guard case .object(let map)? = top["weight_map"] else { throw fail("weight_map", "missing or not an object") }
        var metadata: [String: String] = [:]
        if case .object(let meta)? = top["metadata"] {
            for (k, v) in meta {
                switch v {
                case .string(let s): metadata[k] = s
                case .integer(let i): metadata[k] = String(i)
                case .number(let d): metadata[k] = String(d)
                default: break  // booleans, null and containers are not metadata values
                }
            }
        }
        var wanted: [String: String] = [:]
        for (tensor, value) in map {
            guard case .string(let file) = value else { throw fail("weight_map", "file name is not a string", tensor: tensor) }
            guard !file.isEmpty, !file.contains("/"), !file.contains("\\"), file != ".", file != ".." else {
                throw fail("weight_map", "'\(file)' is not a plain file name in the model directory", tensor: tensor)
            }
            wanted[tensor] = file
        }
        let directory = (indexPath as NSString).deletingLastPathComponent
        let names = Set(wanted.values).sorted()
        var files: [SafetensorsFile] = []
        for name in names {
            files.append(try SafetensorsFile(path: directory.isEmpty ? name : (directory as NSString).appendingPathComponent(name)))
        }
        try self.init(files: files, indexMetadata: metadata)
        for (tensor, file) in wanted {
            guard let loc = locations[tensor] else {
                throw fail("weight_map", "listed in \(file) but not present in it", tensor: tensor)
            }
            guard (self.files[loc.file].path as NSString).lastPathComponent == file else {
                throw fail("weight_map", "listed in \(file) but found in \(self.files[loc.file].path)", tensor: tensor)
            }
        }
    }

    /// All tensor names, sorted.
    public var tensorNames: [String] { locations.keys.sorted() }

    /// The file holding `name` and its header entry, or nil.
    public func tensor(named name: String) -> (file: SafetensorsFile, info: SafetensorsTensorInfo)? {
        locations[name].map { (files[$0.file], $0.tensor) }
    }

    /// The elements of tensor `name` converted to `Float`.
    public func floats(named name: String) throws -> [Float] {
        guard let (file, info) = tensor(named: name) else {
            throw SafetensorsError(path: files.first?.path ?? "safetensors", tensor: name, reason: "no such tensor")
        }
        return try file.floats(info)
    }
}
