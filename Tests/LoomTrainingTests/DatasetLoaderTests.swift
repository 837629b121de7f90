import Foundation
import LoomGeneration
import XCTest
@testable import LoomTraining

/// Dataset readers: alpaca, sharegpt, OpenAI messages, dataset_info.json, raw text; bad
/// records reported as `FILE: line N: reason`.
final class DatasetLoaderTests: XCTestCase {
    private var directory: String!

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "loom-data-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func write(_ name: String, _ text: String) throws -> String {
        let path = directory + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func testAlpacaWithSystemAndHistory() throws {
        let path = try write("a.jsonl", """
            {"instruction": "Add", "input": "2 and 3", "output": "5", "system": "Be terse.", "history": [["Hi", "Hello!"]]}

            {"instruction": "Name a hash function", "input": "", "output": "SHA-256"}\r
            """)
        let data = try DatasetLoader.load(path: path)
        XCTAssertEqual(data.issues, [])
        XCTAssertEqual(data.examples.map(\.messages), [
            [.system("Be terse."), .user("Hi"), .assistant("Hello!"), .user("Add\n2 and 3"), .assistant("5")],
            [.user("Name a hash function"), .assistant("SHA-256")],
        ])
        XCTAssertEqual(data.examples.map(\.source), ["\(path): line 1", "\(path): line 3"])
    }

    func testShareGPTRolesAndTags() throws {
        let path = try write("s.json", """
            [
              {"conversations": [
                {"from": "system", "value": "You call tools."},
                {"from": "human", "value": "Price of BTC?"},
                {"from": "function_call", "value": "{\\"name\\": \\"price\\", \\"arguments\\": {\\"coin\\": \\"BTC\\"}}"},
                {"from": "observation", "value": "97000"},
                {"from": "gpt", "value": "About $97k."}],
               "tools": "[{\\"name\\": \\"price\\"}]"},
              {"conversations": [{"from": "human", "value": "a"}, {"from": "human", "value": "b"}]},
              {"conversations": [{"from": "human", "value": "only a question"}]},
              {"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}], "system": "S"}
            ]
            """)
        let data = try DatasetLoader.load(path: path, format: .sharegpt)
        XCTAssertEqual(data.examples.count, 2)
        XCTAssertEqual(data.examples[0].messages, [
            .system("You call tools."), .user("Price of BTC?"),
            ChatMessage(role: "assistant", content: nil, toolCalls: [.init(name: "price", arguments: "{\"coin\":\"BTC\"}")]),
            ChatMessage(role: "tool", content: "97000"), .assistant("About $97k."),
        ])
        XCTAssertEqual(data.examples[0].tools, "[{\"name\": \"price\"}]")
        XCTAssertEqual(data.examples[0].source, "\(path): line 2")
        XCTAssertEqual(data.examples[1].messages, [.system("S"), .user("q"), .assistant("a")])
        XCTAssertEqual(data.issues.map(\.description), [
            "\(path): line 9: conversations[1]: role \"human\" where gpt or function_call is expected (turns must alternate)",
            "\(path): line 10: field \"conversations\" ends on a human/observation turn; the last turn must be the gpt's",
        ])
    }

    func testOpenAIMessages() throws {
        let path = try write("o.jsonl", """
            {"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": [{"type": "text", "text": "Hi"}]}, {"role": "assistant", "content": "Yo"}]}
            {"messages": [{"role": "user", "content": "no answer"}]}
            {"messages": [{"role": "robot", "content": "x"}, {"role": "assistant", "content": "y"}]}
            not json
            [1, 2]
            """)
        let data = try DatasetLoader.load(path: path)
        XCTAssertEqual(data.examples.map(\.messages), [[.system("S"), .user("Hi"), .assistant("Yo")]])
        XCTAssertEqual(data.issues.map(\.description), [
            "\(path): line 2: no assistant message to train on",
            "\(path): line 3: messages[0].role: \"robot\" is not system, user, assistant or tool",
            "\(path): line 4: malformed JSON (column 1): invalid literal, expected 'null'",
            "\(path): line 5: expected a JSON object, got an array",
        ])
        // strict: the first bad record is the error.
        XCTAssertThrowsError(try DatasetLoader.load(path: path, strict: true)) { error in
            XCTAssertEqual("\(error)", "\(path): line 2: no assistant message to train on")
        }
    }

    func testAlpacaErrorsNameTheField() throws {
        let path = try write("bad.jsonl", """
            {"instruction": "q"}
            {"instruction": 3, "output": "x"}
            {"instruction": "q", "output": "a", "history": [["only one"]]}
            {"instruction": "", "input": "", "output": "a"}
            """)
        XCTAssertThrowsError(try DatasetLoader.load(path: path, format: .alpaca)) { error in
            XCTAssertEqual(error as? TrainingError, .emptyDataset(path: path))
        }
        var issues: [String] = []
        do {
            _ = try DatasetLoader.load(path: path + ".missing")
        } catch {
            issues.append("\(error)")
        }
        XCTAssertEqual(issues, ["\(path).missing: no such file"])
        let good = try write("mixed.jsonl", """
            {"instruction": "q"}
            {"instruction": 3, "output": "x"}
            {"instruction": "q", "output": "a", "history": [["only one"]]}
            {"instruction": "", "input": "", "output": "a"}
            {"instruction": "q", "output": "a"}
            """)
        let data = try DatasetLoader.load(path: good)
        XCTAssertEqual(data.examples.count, 1)
        XCTAssertEqual(data.issues.map(\.description), [
            "\(good): line 1: missing field \"output\"",
            "\(good): line 2: field \"instruction\" must be a string, got a number",
            "\(good): line 3: history[0]: expected a [instruction, response] pair of strings",
            "\(good): line 4: missing or empty field \"instruction\"",
        ])
    }

    func testEmptyFilesAreNamedErrors() throws {
        for (name, text) in [("e.jsonl", ""), ("blank.jsonl", "\n  \n"), ("arr.json", "[ ]"), ("e.txt", "\n\n")] {
            let path = try write(name, text)
            XCTAssertThrowsError(try DatasetLoader.load(path: path, format: name.hasSuffix("txt") ? .text : .alpaca), name) { error in
                XCTAssertEqual("\(error)", "\(path): the dataset has no usable example")
            }
        }
        let open = try write("open.json", "[{\"instruction\": \"q\", \"output\": \"a\"},\n {\"instruction\": \"[\"")
        XCTAssertThrowsError(try DatasetLoader.load(path: open)) { error in
            XCTAssertEqual("\(error)", "\(open): line 2: the JSON array that starts the file is not closed")
        }
    }

    func testJSONArrayElementsKeepTheirLines() throws {
        let path = try write("arr.json", """
            [{"instruction": "a ] , [ { \\" }", "output": "1"},
             {"instruction": "b",
              "output": 2},
             {"instruction": "c", "output": "3"}]
            """)
        let data = try DatasetLoader.load(path: path)
        XCTAssertEqual(data.examples.map { $0.messages?[0].content }, ["a ] , [ { \" }", "c"])
        XCTAssertEqual(data.examples.map(\.source), ["\(path): line 1", "\(path): line 4"])
        XCTAssertEqual(data.issues.map(\.description), ["\(path): line 2: field \"output\" must be a string, got a number"])
    }

    func testLongJSONLStreamsAcrossChunks() throws {
        // More than one 1 MiB read: lines split across chunk boundaries must stay whole.
        let answer = String(repeating: "x", count: 3000)
        var text = ""
        for i in 0..<800 { text += "{\"instruction\": \"q\(i)\", \"output\": \"\(answer)\"}\n" }
        let path = try write("big.jsonl", text)
        let data = try DatasetLoader.load(path: path)
        XCTAssertEqual(data.examples.count, 800)
        XCTAssertEqual(data.issues, [])
        XCTAssertEqual(data.examples[799].messages, [.user("q799"), .assistant(answer)])
        XCTAssertEqual(data.examples[799].source, "\(path): line 800")
    }

    func testRawText() throws {
        let txt = try write("corpus.txt", "First document.\n\nSecond one.\n")
        XCTAssertEqual(try DatasetLoader.load(path: txt, format: .text).examples,
                       [TrainingExample(content: .text("First document."), source: "\(txt): line 1"),
                        TrainingExample(content: .text("Second one."), source: "\(txt): line 3")])
        let jsonl = try write("corpus.jsonl", "{\"text\": \"A\"}\n{\"text\": \"\"}\n")
        let data = try DatasetLoader.load(path: jsonl)
        XCTAssertEqual(data.examples.map(\.content), [.text("A")])
        XCTAssertEqual(data.issues.map(\.description), ["\(jsonl): line 2: missing or empty field \"text\""])
    }

    func testDatasetInfo() throws {
        _ = try write("alp.json", "[{\"q\": \"Hi\", \"a\": \"Yo\", \"sys\": \"S\"}]")
        _ = try write("chat.jsonl", """
            {"msgs": [{"role": "user", "content": "u"}, {"role": "assistant", "content": "v"}]}
            """)
        _ = try write("pt.jsonl", "{\"body\": \"raw\"}\n")
        let info = try write("dataset_info.json", """
            {
              "mine": {"file_name": "alp.json", "columns": {"prompt": "q", "response": "a", "system": "sys"}},
              "chat": {"file_name": "chat.jsonl", "formatting": "sharegpt",
                       "columns": {"messages": "msgs"},
                       "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"}},
              "corpus": {"file_name": "pt.jsonl", "columns": {"prompt": "body"}}
            }
            """)
        let all = try DatasetLoader.load(path: info)
        XCTAssertEqual(all.examples.map(\.content), [
            .conversation([.system("S"), .user("Hi"), .assistant("Yo")]),
            .conversation([.user("u"), .assistant("v")]),
            .text("raw"),
        ])
        XCTAssertEqual(try DatasetLoader.load(path: info, names: ["chat"]).examples.count, 1)
        XCTAssertThrowsError(try DatasetLoader.load(path: info, names: ["nope"])) { error in
            XCTAssertEqual("\(error)", "\(info): no dataset \"nope\" (it has mine, chat, corpus)")
        }
        let sub = directory + "/bad"
        try FileManager.default.createDirectory(atPath: sub, withIntermediateDirectories: true)
        for (text, expected) in [
            ("{\"x\": {\"hf_hub_url\": \"a/b\"}}", "\"x\": only local files (file_name) are supported, not hf_hub_url"),
            ("{\"x\": {\"file_name\": \"f\", \"ranking\": true}}", "\"x\": ranking datasets (preference training) are not supported"),
            ("{\"x\": {\"file_name\": \"f\", \"formatting\": \"openai\"}}", "\"x\".formatting: \"openai\" is not alpaca or sharegpt"),
            ("{\"x\": {\"file_name\": \"f\", \"columns\": {\"images\": \"img\"}}}",
             "\"x\".columns.images is not supported (known: history, messages, prompt, query, response, system, tools)"),
            ("{}", "it names no dataset"),
        ] {
            let path = sub + "/dataset_info.json"
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try DatasetLoader.load(path: path), text) { error in
                XCTAssertEqual("\(error)", "\(path): \(expected)")
            }
        }
    }
}
