import Foundation

/// One multiple-choice question (a line of an `mc.jsonl` file, see Datasets/README.md).
public struct MultipleChoiceItem: Codable, Sendable, Equatable {
    public var id: String
    public var category: String
    public var question: String
    public var choices: [String]
    /// Index of the correct choice.
    public var answer: Int

    public init(id: String, category: String = "general", question: String, choices: [String], answer: Int) {
        self.id = id
        self.category = category
        self.question = question
        self.choices = choices
        self.answer = answer
    }
}

/// Reads JSON Lines datasets, reporting every bad line by number.
public enum JSONLines {
    /// A problem found on one line.
    public struct Issue: Sendable, Equatable, CustomStringConvertible {
        public var line: Int
        public var reason: String
        public var description: String { "line \(line): \(reason)" }
    }

    /// Parses each non-blank line of `path` with `parse`; bad lines become issues (or, with
    /// `strict`, the first one is thrown as ``EvalError/dataset(path:line:reason:)``).
    public static func read<T>(path: String, strict: Bool, parse: ([String: Any], Int) throws -> T) throws -> (items: [T], issues: [Issue]) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw EvalError.dataset(path: path, line: 0, reason: "cannot read the file")
        }
        return try read(data: data, path: path, strict: strict, parse: parse)
    }

    public static func read<T>(data: Data, path: String, strict: Bool, parse: ([String: Any], Int) throws -> T) throws -> (items: [T], issues: [Issue]) {
        var items: [T] = [], issues: [Issue] = []
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        for (index, raw) in lines.enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty { continue }
            do {
                guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                    throw EvalError.dataset(path: path, line: index + 1, reason: "not a JSON object")
                }
                items.append(try parse(object, index + 1))
            } catch {
                let reason: String
                if case let EvalError.dataset(_, _, r) = error { reason = r } else { reason = "malformed JSON (\(error.localizedDescription))" }
                if strict { throw EvalError.dataset(path: path, line: index + 1, reason: reason) }
                issues.append(Issue(line: index + 1, reason: reason))
            }
        }
        if items.isEmpty { throw EvalError.emptyDataset(path: path) }
        return (items, issues)
    }

    /// A required non-empty string field.
    public static func string(_ object: [String: Any], _ key: String, path: String, line: Int) throws -> String {
        guard let value = object[key] as? String else {
            throw EvalError.dataset(path: path, line: line, reason: object[key] == nil ? "missing field \"\(key)\"" : "field \"\(key)\" is not a string")
        }
        guard !value.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw EvalError.dataset(path: path, line: line, reason: "field \"\(key)\" is empty")
        }
        return value
    }
}

extension MultipleChoiceItem {
    /// Loads an `mc.jsonl` file: `question`, `choices` (≥ 2 non-empty strings), `answer` (index
    /// or letter A–Z), optional `id` and `category`.
    public static func load(path: String, strict: Bool = false) throws -> (items: [MultipleChoiceItem], issues: [JSONLines.Issue]) {
        try JSONLines.read(path: path, strict: strict) { object, line in
            try MultipleChoiceItem(object: object, path: path, line: line)
        }
    }

    init(object: [String: Any], path: String, line: Int) throws {
        let question = try JSONLines.string(object, "question", path: path, line: line)
        guard let choices = object["choices"] as? [String], choices.count >= 2 else {
            throw EvalError.dataset(path: path, line: line, reason: "field \"choices\" must be an array of at least 2 strings")
        }
        if let empty = choices.firstIndex(where: { $0.trimmingCharacters(in: .whitespaces).isEmpty }) {
            throw EvalError.dataset(path: path, line: line, reason: "choice \(empty) is empty")
        }
        var answer: Int
        if let index = object["answer"] as? Int {
            answer = index
        } else if let letter = object["answer"] as? String, letter.count == 1, let ascii = letter.uppercased().unicodeScalars.first?.value,
                  ascii >= 65, ascii <= 90 {
            answer = Int(ascii) - 65
        } else {
            throw EvalError.dataset(path: path, line: line, reason: "field \"answer\" must be a choice index or a letter")
        }
        guard answer >= 0, answer < choices.count else {
            throw EvalError.dataset(path: path, line: line, reason: "answer \(answer) is outside the \(choices.count) choices")
        }
        self.init(id: (object["id"] as? String) ?? "line\(line)", category: (object["category"] as? String) ?? "general",
                  question: question, choices: choices, answer: answer)
    }
}
