import Foundation
import LoomGeneration
import LoomHub
import LoomJinja
import LoomTokenizer
import XCTest
@testable import LoomTraining

/// Ids and assistant-only labels against transformers' `apply_chat_template` with
/// offset-mapped ChatML spans, and LLaMA-Factory's own supervised preprocessing
/// (`scripts/gen_finetune_data_fixtures.py`), on the SmolLM2 and Qwen2.5 test models.
final class ConversationTokenizerTests: XCTestCase {
    /// One fixture case, read with LoomJinja's parser so tool schemas keep their key order
    /// (the template prints them with `tojson`).
    private struct Case {
        let name: String
        let messages: [ChatMessage]
        let tools: String?
        let text: String
        let inputIDs: [Int]
        let labels: [Int]
        /// LLaMA-Factory's ids and labels, when the generator had it.
        let llamaFactory: (inputIDs: [Int], labels: [Int])?
        /// LLaMA-Factory's with a cutoff of half the length (its per-turn truncation).
        let llamaFactoryTruncated: (cutoff: Int, inputIDs: [Int], labels: [Int])?
    }

    /// A fixture model: a catalog GGUF (tokenizer and template from the file) or a catalog
    /// tokenizer.json with the template and BOS/EOS texts given in the fixture.
    private struct Model {
        let catalog: String
        let template: (source: String, bos: String, eos: String)?
        let cases: [Case]

        func tokenizer() throws -> ConversationTokenizer {
            guard let template else {
                let chat = try TestModels.chat(catalog)
                return try ConversationTokenizer(tokenizer: chat.tokenizer, chatTemplate: chat.template)
            }
            let tokenizer = try BPETokenizer(huggingFace: ModelStore().resolve(catalog, progress: .silent))
            return ConversationTokenizer(tokenizer: tokenizer, formatter: try ChatFormatter(
                templateSource: template.source, bosToken: template.bos, eosToken: template.eos))
        }
    }

    private func fixture() throws -> [Model] {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/finetune_data", withExtension: "json"))
        guard case .object(let root) = try JSONParser.parse([UInt8](Data(contentsOf: url))),
              case .array(let models)? = root["models"] else { throw TrainingError.invalidParameter("fixture: no models") }
        func ints(_ value: JSONValue?) throws -> [Int] {
            guard case .array(let items)? = value else { throw TrainingError.invalidParameter("fixture: expected an array") }
            return try items.map { item in
                guard case .integer(let number) = item else { throw TrainingError.invalidParameter("fixture: expected integers") }
                return number
            }
        }
        return try models.map { model in
            guard case .object(let model) = model, case .string(let catalog)? = model["catalog"],
                  case .array(let cases)? = model["cases"] else { throw TrainingError.invalidParameter("fixture: bad model") }
            var template: (String, String, String)?
            if case .string(let source)? = model["chat_template"], case .string(let bos)? = model["bos_token"],
               case .string(let eos)? = model["eos_token"] {
                template = (source, bos, eos)
            }
            return Model(catalog: catalog, template: template, cases: try cases.map { value in
                guard case .object(let c) = value, case .string(let name)? = c["name"], case .string(let text)? = c["text"],
                      let messages = c["messages"] else { throw TrainingError.invalidParameter("fixture: bad case") }
                var tools: String?
                switch c["tools"] {
                case nil, .null?: break
                case let value?: tools = JSONText.serialize(value)
                }
                var reference: ([Int], [Int])?
                if case .object(let lf)? = c["llamafactory"] { reference = (try ints(lf["input_ids"]), try ints(lf["labels"])) }
                var truncated: (Int, [Int], [Int])?
                if case .object(let lf)? = c["llamafactory_truncated"], case .integer(let cutoff)? = lf["cutoff_len"] {
                    truncated = (cutoff, try ints(lf["input_ids"]), try ints(lf["labels"]))
                }
                return Case(name: name,
                            messages: try ChatMessage.conversation(fromJSON: Data(JSONText.serialize(messages).utf8)),
                            tools: tools, text: text, inputIDs: try ints(c["input_ids"]), labels: try ints(c["labels"]),
                            llamaFactory: reference, llamaFactoryTruncated: truncated)
            })
        }
    }

    func testIdsAndLabelsEqualTransformersAndLLaMAFactory() throws {
        let models = try fixture()
        XCTAssertEqual(models.map(\.catalog), [TestModels.smolLM2, TestModels.qwen, "llama3-tokenizer"])
        for model in models {
            let tokenizer = try model.tokenizer()
            var llamaFactoryCompared = 0
            for c in model.cases {
                let sequence = try tokenizer.tokenize(TrainingExample(content: .conversation(c.messages), tools: c.tools, source: c.name))
                let label = "\(model.catalog) \(c.name)"
                XCTAssertEqual(tokenizer.tokenizer.decode(sequence.inputIDs), c.text, label)
                XCTAssertEqual(sequence.inputIDs, c.inputIDs, label)
                XCTAssertEqual(sequence.labels, c.labels, label)
                XCTAssertGreaterThan(sequence.trainedTokenCount, 0, label)
                XCTAssertEqual(sequence.segmentIDs, Array(repeating: 0, count: sequence.count))
                // LLaMA-Factory's own masks, where its template renders the same ids (its
                // SmolLM2 default system prompt ends with a period the model's does not; the
                // Llama 3 template trims message content, LLaMA-Factory's does not).
                if let reference = c.llamaFactory, reference.inputIDs == c.inputIDs {
                    XCTAssertEqual(sequence.labels, reference.labels, label + " (LLaMA-Factory)")
                    llamaFactoryCompared += 1
                    // Its per-turn truncation at half the length.
                    let cut = try XCTUnwrap(c.llamaFactoryTruncated, label)
                    let (full, targets) = try tokenizer.tokenizeWithTargets(
                        TrainingExample(content: .conversation(c.messages), tools: c.tools, source: c.name))
                    let truncated = SequenceTruncation.perTurn.apply(full, targets: targets, cutoff: cut.cutoff)
                    XCTAssertEqual(truncated.inputIDs, cut.inputIDs, label + " (LLaMA-Factory, cutoff \(cut.cutoff))")
                    XCTAssertEqual(truncated.labels, cut.labels, label + " (LLaMA-Factory, cutoff \(cut.cutoff))")
                }
            }
            XCTAssertGreaterThanOrEqual(llamaFactoryCompared, 1, "\(model.catalog): no case compared with LLaMA-Factory")
        }
    }

    func testEndOfTurnTokensAreTrained() throws {
        let chat = try TestModels.chat(TestModels.qwen)
        let tokenizer = try ConversationTokenizer(tokenizer: chat.tokenizer, chatTemplate: chat.template)
        let sequence = try tokenizer.tokenize(TrainingExample(content: .conversation([.user("Hi"), .assistant("Yo")]), source: "t"))
        let trained = sequence.labels.filter { $0 != TrainingSequence.ignoreIndex }
        XCTAssertEqual(tokenizer.tokenizer.decode(trained), "Yo<|im_end|>\n")
    }

    func testRawTextEndsWithEOSAndIsAllTrained() throws {
        let chat = try TestModels.chat(TestModels.smolLM2)
        let tokenizer = try ConversationTokenizer(tokenizer: chat.tokenizer, chatTemplate: chat.template)
        let sequence = try tokenizer.tokenize(TrainingExample(content: .text("Bitcoin uses proof of work."), source: "t"))
        XCTAssertEqual(sequence.labels, sequence.inputIDs)
        XCTAssertEqual(sequence.inputIDs.last, chat.tokenizer.eosID)
        XCTAssertEqual(tokenizer.tokenizer.decode(sequence.inputIDs, skipSpecial: true), "Bitcoin uses proof of work.")
    }

    func testConversationWithoutAssistantIsRefused() throws {
        let chat = try TestModels.chat(TestModels.smolLM2)
        let tokenizer = try ConversationTokenizer(tokenizer: chat.tokenizer, chatTemplate: chat.template)
        XCTAssertThrowsError(try tokenizer.tokenize(TrainingExample(content: .conversation([.user("Hi")]), source: "f: line 3"))) { error in
            XCTAssertEqual("\(error)", "f: line 3: no assistant turn to train on")
        }
    }
}
