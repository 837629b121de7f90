import Foundation
import XCTest
import LoomGeneration
import LoomHub
import LoomModels
@testable import LoomServer

/// `loom serve --lookup`: slots verify prompt-lookup drafts inside the batched step and answer
/// as without drafts (up to near-ties, see SpeculativeDecodingTests).
final class ServerSpeculativeTests: XCTestCase {
    static let model: LanguageModel? = try? LanguageModel(path: TestServer.modelPath())

    static let requests = [
        "Repeat this sentence exactly: The library opens at nine on weekdays, at ten on Saturdays, and stays closed on Sundays.",
        "Quote the passage below.\n\nMix the flour and the salt, add warm water slowly, and knead the dough for ten minutes.",
        "Rename the variable s to total and output the whole function:\n\ndef total(xs):\n    s = 0\n    for x in xs:\n        s += x\n    return s\n",
        "Summarize: Octopuses have three hearts, blue blood, and can change the colour of their skin in an instant.",
        "Repeat exactly: 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12",
        "Quote: To reset the router, hold the small button on the back for ten seconds until the lights blink orange.",
    ]

    /// Runs every request through a scheduler, `together` at once or one after another, and
    /// returns the answers' tokens.
    func answers(_ scheduler: BatchScheduler, together: Bool) throws -> [[Int]] {
        let model = try XCTUnwrap(Self.model)
        let prompts = try Self.requests.map {
            model.tokenizer.encode(try ChatFormatter(model: model).render([.user($0)]), addSpecial: false)
        }
        var options = GenerationOptions(maxTokens: 48)
        options.sampling = .greedy
        final class Collector: @unchecked Sendable {
            let lock = NSLock()
            var tokens: [[Int]]
            var done = 0
            init(_ n: Int) { tokens = Array(repeating: [], count: n) }
        }
        let collector = Collector(prompts.count)
        func job(_ i: Int) -> GenerationJob {
            GenerationJob(prompt: prompts[i], options: options) { event in
                collector.lock.withLock {
                    switch event {
                    case .token(let t) where !t.isEndOfGeneration: collector.tokens[i].append(t.id)
                    case .finished, .failed: collector.done += 1
                    default: break
                    }
                }
            }
        }
        if together {
            try scheduler.submit(prompts.indices.map(job))
            XCTAssertTrue(TestServer.eventually(timeout: 120) { collector.lock.withLock { collector.done == prompts.count } })
        } else {
            for i in prompts.indices {
                try scheduler.submit(job(i))
                XCTAssertTrue(TestServer.eventually(timeout: 60) { collector.lock.withLock { collector.done == i + 1 } })
            }
        }
        return collector.lock.withLock { collector.tokens }
    }

    func testLookupSlotsAnswerAsPlainSlots() throws {
        let model = try XCTUnwrap(Self.model)
        let plain = try BatchScheduler(model: model, slots: 3, contextLength: 512, threads: 2)
        let fast = try BatchScheduler(model: model, slots: 3, contextLength: 512, threads: 2, speculative: .promptLookup())
        plain.start()
        fast.start()
        defer { plain.drainAndStop(); fast.drainAndStop() }
        let expected = try answers(plain, together: false)
        // Verification rows are verified exactly (one-token arithmetic per row) even with the
        // server's default small-batch kernels: the answers are identical.
        let got = try answers(fast, together: false)
        XCTAssertEqual(got, expected)
        let stats = fast.speculativeStats
        XCTAssertGreaterThan(stats.accepted, 20, "\(stats)")
        XCTAssertLessThanOrEqual(stats.accepted, stats.drafted)
        // Three slots at once, batch-invariant (`--deterministic`): drafts of several slots
        // verified in one batch, prompt chunks and decode rows in the same steps. Every row
        // gets its kind's arithmetic whatever shares the step, so the answers are those of
        // one plain request at a time.
        let plainExact = try BatchScheduler(model: model, slots: 3, contextLength: 512, threads: 2, kernelOptions: .default)
        let fastExact = try BatchScheduler(model: model, slots: 3, contextLength: 512, threads: 2, kernelOptions: .default,
                                           speculative: .promptLookup())
        plainExact.start()
        fastExact.start()
        defer { plainExact.drainAndStop(); fastExact.drainAndStop() }
        let together = try answers(fastExact, together: true)
        XCTAssertEqual(together, try answers(plainExact, together: false))
        XCTAssertGreaterThan(fastExact.speculativeStats.accepted, 0)
    }

    func testDraftModelIsRefusedByName() throws {
        let model = try XCTUnwrap(Self.model)
        XCTAssertThrowsError(try BatchScheduler(model: model, slots: 1, contextLength: 64, threads: 1,
                                                speculative: SpeculativeOptions(source: .draftModel))) {
            XCTAssertTrue("\($0)".contains("--model-draft"), "\($0)")
        }
        XCTAssertThrowsError(try BatchScheduler(model: model, slots: 1, contextLength: 64, threads: 1,
                                                speculative: .promptLookup(draftMax: 0))) {
            XCTAssertTrue("\($0)".contains("--draft-max"), "\($0)")
        }
    }
}
