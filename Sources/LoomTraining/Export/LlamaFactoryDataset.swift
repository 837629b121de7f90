import LoomGeneration
import LoomJinja

/// Examples rewritten in one of LLaMA-Factory's dataset formats (`data/README.md`), with the
/// `dataset_info.json` entry that describes them.
///
/// Every record has every column the `dataset_info.json` entry names (an empty `system`,
/// `tools` or `history` when there is none): LLaMA-Factory's converters index each declared
/// column, so a file in which no record had, say, `history` would fail to load.
///
/// - sharegpt: `conversations` of `{from, value}` with human/gpt/function_call/observation
///   tags, `system` and `tools` columns. Every conversation Loom trains on fits, provided the
///   turns alternate as LLaMA-Factory requires (user or observation, then assistant or function
///   call); trailing user/tool turns (untrained) are dropped.
/// - alpaca: `instruction`/`output`, `system`, `history` pairs; no tool calls.
/// - raw text (when every example is text): `{"text": …}` records and an entry with
///   `columns: {prompt: text}`, LLaMA-Factory's pre-training layout (`stage: pt`).
public struct LlamaFactoryDataset: Sendable {
    /// The record layout for chat data.
    public enum Layout: String, Sendable, CaseIterable {
        case sharegpt, alpaca
    }

    /// One JSON object per exported example.
    public let records: [JSONValue]
    /// Examples that could not be expressed, as `SOURCE: reason`.
    public let skipped: [String]
    /// True for a raw-text (pre-training) dataset.
    public let isText: Bool
    /// The layout chat records were written in.
    public let layout: Layout

    /// Converts `examples`.
    /// - Throws: ``TrainingError/exportFailed(path:reason:)`` when chat and raw-text examples are
    ///   mixed (LLaMA-Factory trains them in different stages).
    public init(_ examples: [TrainingExample], layout: Layout) throws {
        let texts = examples.filter { if case .text = $0.content { return true } else { return false } }
        guard texts.isEmpty || texts.count == examples.count else {
            throw TrainingError.exportFailed(path: "dataset", reason: "chat and raw-text examples are mixed; LLaMA-Factory trains them in different stages (sft, pt)")
        }
        self.layout = layout
        isText = !texts.isEmpty
        var records: [JSONValue] = []
        var skipped: [String] = []
        for example in examples {
            switch example.content {
            case .text(let text):
                records.append(.object(["text": .string(text)]))
            case .conversation(let messages):
                do {
                    records.append(try Self.record(messages, tools: example.tools, layout: layout))
                } catch let error as TrainingError {
                    if case let .exportFailed(_, reason) = error { skipped.append("\(example.source): \(reason)") } else { throw error }
                }
            }
        }
        self.records = records
        self.skipped = skipped
    }

    /// The `dataset_info.json` entry for the records stored in `fileName`.
    public func infoEntry(fileName: String) -> JSONValue {
        if isText {
            return .object(["file_name": .string(fileName), "columns": .object(["prompt": .string("text")])])
        }
        switch layout {
        case .sharegpt:
            return .object(["file_name": .string(fileName), "formatting": .string("sharegpt"),
                            "columns": .object(["messages": .string("conversations"), "system": .string("system"), "tools": .string("tools")])])
        case .alpaca:
            return .object(["file_name": .string(fileName), "formatting": .string("alpaca"),
                            "columns": .object(["prompt": .string("instruction"), "response": .string("output"), "system": .string("system"), "history": .string("history")])])
        }
    }

    /// The records as a JSON array, one record per line.
    public var fileText: String {
        "[\n" + records.map(JSONText.serialize).joined(separator: ",\n") + "\n]\n"
    }

    private static func record(_ messages: [ChatMessage], tools: String?, layout: Layout) throws -> JSONValue {
        func fail(_ reason: String) -> TrainingError { .exportFailed(path: "dataset", reason: reason) }
        var system: String?
        var turns: [(tag: String, value: String)] = []
        for (i, message) in messages.enumerated() {
            switch message.role {
            case "system":
                guard turns.isEmpty, system == nil else { throw fail("messages[\(i)]: a system message after the first turn") }
                system = message.content ?? ""
            case "user": turns.append(("human", message.content ?? ""))
            case "tool": turns.append(("observation", message.content ?? ""))
            case "assistant":
                if let calls = message.toolCalls, !calls.isEmpty {
                    if let content = message.content, !content.isEmpty {
                        throw fail("messages[\(i)]: an assistant turn with both text and tool calls")
                    }
                    let objects: [JSONValue] = calls.map { call in
                        let arguments = (try? JSONParser.parse(Array(call.arguments.utf8))) ?? .string(call.arguments)
                        return .object(["name": .string(call.name), "arguments": arguments])
                    }
                    turns.append(("function_call", JSONText.serialize(objects.count == 1 ? objects[0] : .array(objects))))
                } else {
                    turns.append(("gpt", message.content ?? ""))
                }
            default:
                throw fail("messages[\(i)]: role \"\(message.role)\" has no LLaMA-Factory tag")
            }
        }
        while let last = turns.last, last.tag == "human" || last.tag == "observation" { turns.removeLast() }
        guard !turns.isEmpty else { throw fail("no assistant turn") }
        for (i, turn) in turns.enumerated() {
            let expected = i % 2 == 0 ? ["human", "observation"] : ["gpt", "function_call"]
            guard expected.contains(turn.tag) else {
                throw fail("turn \(i) is \(turn.tag) where \(expected.joined(separator: " or ")) must come (LLaMA-Factory needs alternating turns)")
            }
        }
        switch layout {
        case .sharegpt:
            return .object([
                "conversations": .array(turns.map { .object(["from": .string($0.tag), "value": .string($0.value)]) }),
                "system": .string(system ?? ""), "tools": .string(tools ?? ""),
            ])
        case .alpaca:
            guard tools == nil, turns.allSatisfy({ $0.tag == "human" || $0.tag == "gpt" }) else {
                throw fail("tool calls cannot be written in the alpaca format (use sharegpt)")
            }
            let pairs = stride(from: 0, to: turns.count, by: 2).map { (turns[$0].value, turns[$0 + 1].value) }
            return .object([
                "instruction": .string(pairs.last!.0), "output": .string(pairs.last!.1), "system": .string(system ?? ""),
                "history": .array(pairs.dropLast().map { .array([.string($0.0), .string($0.1)]) }),
            ])
        }
    }
}
