import Foundation
import XCTest
import LoomKernels
import LoomModels
@testable import LoomGeneration

/// Grammar-constrained generation on the real default model (run in release): JSON answers
/// under fixture schemas, sampled with several seeds, all validate with `jsonschema`.
final class GrammarGenerationTests: XCTestCase {
    func testSchemaConstrainedAnswersValidate() throws {
        let model = try XCTUnwrap(GeneratorTests.model, "the default model could not be loaded")
        let generator = Generator(session: try model.makeSession(contextLength: 1024, pool: ThreadPool(threadCount: 2)))
        let names = ["risk verdict", "simple object", "nested object", "refs", "min max items", "date", "pattern anchored",
                     "oneOf objects", "recursive ref", "type list"]
        let cases = try JSONSchemaGrammarTests.cases().filter { names.contains($0.name) }
        XCTAssertEqual(cases.count, names.count)
        var batches: [[String: Any]] = []
        var complete = 0
        var total = 0
        for c in cases {
            let grammar = try JSONSchemaGrammar.grammar(for: c.schema)
            let schemaText = JSONSchemaCompiler.serialize(c.schema)
            let prompt = try ChatFormatter(model: model).render([
                .user("Reply with one JSON value for this JSON Schema, about a crypto token: \(schemaText)")])
            var documents: [String] = []
            for seed in 0..<3 {
                var options = GenerationOptions(maxTokens: 160, grammar: grammar)
                options.sampling = SamplingParameters(temperature: 0.8, seed: UInt64(seed))
                let result = try generator.generate(prompt: model.tokenizer.encode(prompt, addSpecial: false), options: options)
                total += 1
                XCTAssertTrue(GrammarMatcher(grammar: grammar).accepts(Array(result.text.utf8)),
                              "\(c.name): \(result.text) \(result.tokens) \(result.finishReason)")
                // Token by token, every generated token was allowed where it was chosen.
                var replay = GrammarConstraint(grammar: grammar, tokenizer: model.tokenizer)
                for (i, id) in result.tokens.enumerated() where !replay.accept(id) {
                    XCTFail("\(c.name): token \(i) (\(id), bytes \(model.tokenizer.tokenBytes(id))) is not allowed after "
                            + "\(result.tokens[..<i].map { model.tokenizer.tokenBytes($0) })")
                    break
                }
                if result.finishReason == .stop {
                    complete += 1
                    documents.append(result.text)
                }
            }
            batches.append(["case": c.name, "documents": documents])
        }
        XCTAssertGreaterThanOrEqual(complete, total * 2 / 3, "too many answers ran out of tokens")
        let report = try JSONSchemaGrammarTests.validateWithPython(batches)
        XCTAssertTrue(report.contains("checked \(complete) documents, 0 bad"), report)
    }
}
