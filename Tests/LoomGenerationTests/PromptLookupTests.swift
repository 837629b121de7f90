import XCTest
@testable import LoomGeneration

/// Prompt-lookup drafts and speculative option checks, without a model.
final class PromptLookupTests: XCTestCase {
    func testLongestNgramWinsAndLatestOccurrence() {
        let lookup = PromptLookup(ngramMin: 1, ngramMax: 3)
        // "7 8 9" occurs at 0 and 5; the context ends in "7 8 9": the latest earlier one (5) wins.
        let context = [7, 8, 9, 1, 2, 7, 8, 9, 3, 4, 5, 7, 8, 9]
        XCTAssertEqual(lookup.draft(context: context, count: 4), [3, 4, 5, 7])
        // Only a 1-gram matches: "9" → what followed its latest earlier occurrence.
        XCTAssertEqual(lookup.draft(context: [9, 6, 6, 9], count: 2), [6, 6])
        // A 2-gram match beats a later 1-gram match.
        XCTAssertEqual(lookup.draft(context: [1, 2, 10, 11, 2, 20, 1, 2], count: 1), [10])
    }

    func testDraftStopsAtTheContextEndAndCount() {
        let lookup = PromptLookup(ngramMin: 2, ngramMax: 2)
        XCTAssertEqual(lookup.draft(context: [1, 2, 3, 1, 2], count: 10), [3, 1, 2])
        XCTAssertEqual(lookup.draft(context: [1, 2, 3, 1, 2], count: 1), [3])
        XCTAssertEqual(lookup.draft(context: [1, 2, 3, 1, 2], count: 0), [])
    }

    func testNoMatchGivesNoDraft() {
        let lookup = PromptLookup(ngramMin: 2, ngramMax: 4)
        XCTAssertEqual(lookup.draft(context: [1, 2, 3, 4, 5], count: 4), [])
        XCTAssertEqual(lookup.draft(context: [1], count: 4), [])
        XCTAssertEqual(lookup.draft(context: [], count: 4), [])
        // A 1-gram would match, but the minimum is 2.
        XCTAssertEqual(lookup.draft(context: [5, 1, 2, 5], count: 4), [])
    }

    /// A run of one token matches itself shifted by one (the continuation overlaps the suffix).
    func testRepeatedTokenRun() {
        let lookup = PromptLookup(ngramMin: 1, ngramMax: 3)
        XCTAssertEqual(lookup.draft(context: [4, 4, 4, 4], count: 5), [4])
        XCTAssertEqual(lookup.draft(context: [3, 4, 3, 4, 3, 4], count: 3), [3, 4])
    }

    func testBadOptionsAreNamed() {
        func message(_ options: SpeculativeOptions) -> String? {
            do { try options.validate(); return nil } catch { return "\(error)" }
        }
        XCTAssertNil(message(.promptLookup()))
        XCTAssertNil(message(SpeculativeOptions(source: .draftModel, draftMax: 14, draftMin: 4, draftPMin: 0)))
        XCTAssertTrue(message(.promptLookup(draftMax: 0))?.contains("--draft-max") ?? false)
        XCTAssertTrue(message(.promptLookup(draftMax: 15))?.contains("--draft-max") ?? false)
        XCTAssertTrue(message(.promptLookup(draftMax: 4, draftMin: 5))?.contains("--draft-min") ?? false)
        XCTAssertTrue(message(.promptLookup(draftMin: -1))?.contains("--draft-min") ?? false)
        XCTAssertTrue(message(.promptLookup(ngramMin: 0))?.contains("--lookup-ngram") ?? false)
        XCTAssertTrue(message(.promptLookup(ngramMin: 3, ngramMax: 2))?.contains("--lookup-ngram") ?? false)
        XCTAssertTrue(message(SpeculativeOptions(source: .draftModel, draftPMin: 1.5))?.contains("--draft-p-min") ?? false)
        XCTAssertTrue(message(SpeculativeOptions(source: .draftModel, draftPMin: .nan))?.contains("--draft-p-min") ?? false)
    }

    func testStatsArithmetic() {
        var stats = SpeculativeStats()
        XCTAssertEqual(stats.acceptanceRate, 0)
        XCTAssertEqual(stats.tokensPerStep(generated: 10), 0)
        stats.drafted = 20
        stats.accepted = 15
        stats.verifications = 4
        stats.plainSteps = 1
        XCTAssertEqual(stats.acceptanceRate, 0.75)
        XCTAssertEqual(stats.tokensPerStep(generated: 21), 4)
    }
}
