import Foundation
import LoomJinja

/// A LLaMA-Factory `dataset_info.json`: named datasets, each a local file with its
/// `formatting` (alpaca or sharegpt), `columns` and sharegpt `tags`
/// (LLaMA-Factory `data/README.md`; parsed as `src/llamafactory/data/parser.py` does).
///
/// Only what supervised fine-tuning from local files uses is accepted; hub or script
/// datasets, ranking (DPO) and KTO entries, images, videos and audio are named errors.
public struct DatasetInfo: Sendable {
    public static let fileName = "dataset_info.json"

    /// One named dataset.
    public struct Entry: Sendable, Equatable {
        public let name: String
        /// `file_name`, resolved against the directory of `dataset_info.json`.
        public let filePath: String
        public let format: DatasetFormat
        public let columns: DatasetColumns
    }

    public let path: String
    /// In file order.
    public let entries: [Entry]

    /// Reads and checks `path`.
    /// - Throws: ``TrainingError/badRecord(path:line:reason:)`` (line 0) naming the entry and key.
    public init(path: String) throws {
        func bad(_ reason: String) -> TrainingError { .badRecord(path: path, line: 0, reason: reason) }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw bad(FileManager.default.fileExists(atPath: path) ? "cannot read the file" : "no such file")
        }
        let root: JSONValue
        do {
            root = try JSONParser.parse([UInt8](data))
        } catch {
            throw bad("\(error)")
        }
        guard case .object(let datasets) = root else { throw bad("expected an object of named datasets") }
        let directory = (path as NSString).deletingLastPathComponent
        var entries: [Entry] = []
        for (name, value) in datasets {
            guard case .object(let attributes) = value else { throw bad("\"\(name)\": expected an object") }
            for key in ["ranking", "kto_tag"] {
                if case .bool(true)? = attributes[key] { throw bad("\"\(name)\": \(key) datasets (preference training) are not supported") }
            }
            guard case .string(let file)? = attributes["file_name"] else {
                let remote = ["hf_hub_url", "ms_hub_url", "om_hub_url", "script_url", "cloud_file_name"].first { attributes[$0] != nil }
                throw bad("\"\(name)\": " + (remote.map { "only local files (file_name) are supported, not \($0)" } ?? "missing \"file_name\""))
            }
            let formatting: String
            switch attributes["formatting"] {
            case nil, .null?: formatting = "alpaca"
            case .string(let text)?: formatting = text
            case let other?: throw bad("\"\(name)\".formatting: expected a string, got \(other.kindDescription)")
            }
            guard var format = DatasetFormat(rawValue: formatting), format == .alpaca || format == .sharegpt else {
                throw bad("\"\(name)\".formatting: \"\(formatting)\" is not alpaca or sharegpt")
            }
            var columns = DatasetColumns.defaults(for: format)
            let columnKeys: [String: WritableKeyPath<DatasetColumns, String>] = [
                "prompt": \.prompt, "query": \.query, "response": \.response, "history": \.history,
                "messages": \.messages, "system": \.system, "tools": \.tools,
            ]
            let tagKeys: [String: WritableKeyPath<DatasetColumns, String>] = [
                "role_tag": \.roleTag, "content_tag": \.contentTag, "user_tag": \.userTag, "assistant_tag": \.assistantTag,
                "observation_tag": \.observationTag, "function_tag": \.functionTag, "system_tag": \.systemTag,
            ]
            var givenColumns: Set<String> = []
            for (group, keys) in [("columns", columnKeys), ("tags", tagKeys)] {
                switch attributes[group] {
                case nil, .null?: continue
                case .object(let members)?:
                    for (key, value) in members {
                        guard let keyPath = keys[key] else {
                            throw bad("\"\(name)\".\(group).\(key) is not supported (known: \(keys.keys.sorted().joined(separator: ", ")))")
                        }
                        guard case .string(let column) = value else { throw bad("\"\(name)\".\(group).\(key): expected a string") }
                        columns[keyPath: keyPath] = column
                        if group == "columns" { givenColumns.insert(key) }
                    }
                case let other?:
                    throw bad("\"\(name)\".\(group): expected an object, got \(other.kindDescription)")
                }
            }
            // A pre-training corpus is an alpaca entry whose only column is the prompt
            // (LLaMA-Factory's `c4_demo`: `columns: {prompt: text}`).
            if format == .alpaca, givenColumns == ["prompt"] {
                format = .text
                columns.text = columns.prompt
            }
            let resolved = file.hasPrefix("/") ? file : (directory as NSString).appendingPathComponent(file)
            entries.append(Entry(name: name, filePath: resolved, format: format, columns: columns))
        }
        guard !entries.isEmpty else { throw bad("it names no dataset") }
        self.path = path
        self.entries = entries
    }

    /// The entries called `names` (all when nil), in the order asked.
    /// - Throws: ``TrainingError/badRecord(path:line:reason:)`` for a name the file lacks.
    public func entries(named names: [String]?) throws -> [Entry] {
        guard let names else { return entries }
        return try names.map { name in
            guard let entry = entries.first(where: { $0.name == name }) else {
                throw TrainingError.badRecord(path: path, line: 0, reason:
                    "no dataset \"\(name)\" (it has \(entries.map(\.name).joined(separator: ", ")))")
            }
            return entry
        }
    }
}
