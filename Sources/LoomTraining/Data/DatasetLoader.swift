import Foundation

/// Examples read from a dataset, and the records that were skipped.
public struct LoadedDataset: Sendable {
    public var examples: [TrainingExample]
    /// One ``TrainingError/badRecord(path:line:reason:)`` per skipped record (printed
    /// `FILE: line N: reason`), in file order.
    public var issues: [TrainingError]

    public init(examples: [TrainingExample] = [], issues: [TrainingError] = []) {
        self.examples = examples
        self.issues = issues
    }
}

/// Reads a training dataset file (`--data`, `--text`) into examples.
///
/// ```swift
/// let data = try DatasetLoader.load(path: "train.jsonl")          // format from the first record
/// for issue in data.issues { print(issue) }                       // "train.jsonl: line 7: missing field \"output\""
/// let corpus = try DatasetLoader.load(path: "corpus.txt", format: .text)
/// ```
public enum DatasetLoader {
    /// Loads `path`: a JSONL file or JSON array of records in `format` (detected from the first
    /// record when nil), a LLaMA-Factory `dataset_info.json` (every entry, or those in `names`),
    /// or for `.text` a plain-text file whose non-blank lines are the documents (as HF
    /// `datasets`' text builder, which LLaMA-Factory uses for `.txt`, splits it).
    /// - Parameter strict: the first bad record is thrown instead of collected.
    /// - Throws: ``TrainingError/badRecord(path:line:reason:)``, and
    ///   ``TrainingError/emptyDataset(path:)`` when no record is usable.
    public static func load(path: String, format: DatasetFormat? = nil, columns: DatasetColumns? = nil,
                            names: [String]? = nil, strict: Bool = false) throws -> LoadedDataset {
        if (path as NSString).lastPathComponent == DatasetInfo.fileName {
            let info = try DatasetInfo(path: path)
            var result = LoadedDataset()
            for entry in try info.entries(named: names) {
                let part = try load(path: entry.filePath, format: entry.format, columns: entry.columns, strict: strict)
                result.examples += part.examples
                result.issues += part.issues
            }
            return result
        }
        if format == .text, !isJSONFile(path) {
            return try loadPlainText(path: path)
        }
        var result = LoadedDataset()
        var converter = format.map { DatasetConverter(format: $0, columns: columns, path: path) }
        try DatasetRecordReader(path: path).forEach({ record in
            if converter == nil {
                guard let detected = DatasetFormat.detect(record.object) else {
                    throw TrainingError.badRecord(path: path, line: record.line, reason:
                        "cannot tell the format: expected a \"messages\", \"conversations\", \"instruction\" or \"text\" field (or pass the format)")
                }
                converter = DatasetConverter(format: detected, columns: columns, path: path)
            }
            do {
                result.examples.append(try converter!.example(record))
            } catch let error as TrainingError where !strict {
                result.issues.append(error)
            }
        }, issue: { issue in
            if strict { throw issue }
            result.issues.append(issue)
        })
        guard !result.examples.isEmpty else { throw TrainingError.emptyDataset(path: path) }
        return result
    }

    private static func isJSONFile(_ path: String) -> Bool {
        ["json", "jsonl"].contains((path as NSString).pathExtension.lowercased())
    }

    /// One document per non-blank line.
    private static func loadPlainText(path: String) throws -> LoadedDataset {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TrainingError.badRecord(path: path, line: 0, reason: FileManager.default.fileExists(atPath: path)
                                          ? "cannot read the file" : "no such file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw TrainingError.badRecord(path: path, line: 0, reason: "the file is not UTF-8 text")
        }
        var result = LoadedDataset()
        var number = 0
        text.enumerateLines { line, _ in
            number += 1
            if !line.trimmingCharacters(in: .whitespaces).isEmpty {
                result.examples.append(TrainingExample(content: .text(line), source: "\(path): line \(number)"))
            }
        }
        guard !result.examples.isEmpty else { throw TrainingError.emptyDataset(path: path) }
        return result
    }
}
