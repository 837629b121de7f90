import Foundation
import LoomGeneration
import XCTest
@testable import LoomTraining

/// Cutoff, strict mode, raw-text chunking and packing.
final class TrainingDataBuilderTests: XCTestCase {
    private func tokenizer() throws -> ConversationTokenizer {
        let chat = try TestModels.chat(TestModels.smolLM2)
        return try ConversationTokenizer(tokenizer: chat.tokenizer, chatTemplate: chat.template)
    }

    private func conversation(_ answer: String, _ source: String) -> TrainingExample {
        TrainingExample(content: .conversation([.system("S"), .user("Q"), .assistant(answer)]), source: source)
    }

    func testTruncationIsCountedOrAnErrorUnderStrict() throws {
        let tokenizer = try tokenizer()
        let long = conversation(String(repeating: "word ", count: 40), "d.jsonl: line 2")
        let short = conversation("Yes.", "d.jsonl: line 1")
        let full = try tokenizer.tokenize(long)
        let shortLength = try tokenizer.tokenize(short).count
        let cutoff = full.count - 10
        XCTAssertGreaterThan(cutoff, shortLength)

        // The prompt is short, so LLaMA-Factory's per-turn rule cuts only the answer's end:
        // the same as keeping the start.
        let (sequences, report) = try TrainingDataBuilder(tokenizer: tokenizer, cutoffLength: cutoff).build([short, long])
        XCTAssertEqual(sequences.count, 2)
        XCTAssertEqual(sequences[1].inputIDs, Array(full.inputIDs.prefix(cutoff)))
        XCTAssertEqual(sequences[1].labels, Array(full.labels.prefix(cutoff)))
        XCTAssertEqual(report.truncated, 1)
        XCTAssertEqual(report.truncatedTokens, 10)
        XCTAssertEqual(report.tokens, shortLength + cutoff)
        XCTAssertTrue(report.description.contains("1 longer than the cutoff (10 tokens cut)"), report.description)

        XCTAssertThrowsError(try TrainingDataBuilder(tokenizer: tokenizer, cutoffLength: cutoff, strict: true).build([short, long])) { error in
            XCTAssertEqual("\(error)", "d.jsonl: line 2: \(full.count) tokens is longer than the cutoff length \(cutoff) (strict mode)")
        }
    }

    func testExampleWhoseAnswerIsCutAwayIsDropped() throws {
        let tokenizer = try tokenizer()
        let example = TrainingExample(content: .conversation([
            .system("S"), .user(String(repeating: "question ", count: 20)), .assistant("An answer."),
        ]), source: "x")
        let sequence = try tokenizer.tokenize(example)
        let firstTrained = try XCTUnwrap(sequence.labels.firstIndex { $0 != TrainingSequence.ignoreIndex })
        // Keeping the start cuts the answer away; LLaMA-Factory's per-turn rule would keep it.
        let builder = try TrainingDataBuilder(tokenizer: tokenizer, cutoffLength: firstTrained, truncation: .keepStart)
        XCTAssertThrowsError(try builder.build([example])) { error in
            XCTAssertEqual(error as? TrainingError, .emptyDataset(path: "x"))
        }
        let (sequences, report) = try builder.build([conversation("A", "y"), example])
        XCTAssertEqual(report.droppedWithoutTargets, 1)
        XCTAssertEqual(report.truncated, 1)
        XCTAssertEqual(sequences.map(\.sources), [["y"]])
    }

    func testRawTextIsChunkedNotCut() throws {
        let tokenizer = try tokenizer()
        let text = TrainingExample(content: .text(String(repeating: "Blocks chain together. ", count: 30)), source: "c.txt: line 1")
        let whole = try tokenizer.tokenize(text)
        let (sequences, report) = try TrainingDataBuilder(tokenizer: tokenizer, cutoffLength: 64).build([text])
        XCTAssertEqual(report.chunked, 1)
        XCTAssertEqual(report.truncated, 0)
        XCTAssertEqual(sequences.flatMap(\.inputIDs), whole.inputIDs)
        XCTAssertTrue(sequences.allSatisfy { $0.count <= 64 && $0.labels[0] == TrainingSequence.ignoreIndex })
        XCTAssertEqual(sequences.count, (whole.count + 63) / 64 - (whole.count % 64 == 1 ? 1 : 0))
    }

    func testPackingKeepsSegmentsApart() throws {
        let tokenizer = try tokenizer()
        let examples = ["One.", "Two words.", "Three words here.", "A somewhat longer answer to pack."].enumerated().map {
            conversation($0.element, "p: line \($0.offset + 1)")
        }
        let unpacked = try examples.map { try tokenizer.tokenize($0) }
        let cutoff = unpacked[0].count + unpacked[3].count + 1
        let (packs, report) = try TrainingDataBuilder(tokenizer: tokenizer, cutoffLength: cutoff, packing: true).build(examples)
        XCTAssertLessThan(packs.count, examples.count)
        XCTAssertEqual(report.sequences, packs.count)
        var seen: [String] = []
        for pack in packs {
            XCTAssertLessThanOrEqual(pack.count, cutoff)
            XCTAssertEqual(pack.sources.count, Set(pack.segmentIDs).count)
            for (segment, source) in pack.sources.enumerated() {
                let index = Int(source.split(separator: " ").last!)! - 1
                let positions = pack.segmentIDs.indices.filter { pack.segmentIDs[$0] == segment }
                XCTAssertEqual(positions.map { pack.inputIDs[$0] }, unpacked[index].inputIDs, source)
                XCTAssertEqual(positions.map { pack.positionIDs[$0] }, Array(0..<unpacked[index].count), source)
                XCTAssertEqual(pack.labels[positions[0]], TrainingSequence.ignoreIndex)
                XCTAssertEqual(Array(positions.dropFirst()).map { pack.labels[$0] }, Array(unpacked[index].labels.dropFirst()), source)
                seen.append(source)
            }
        }
        XCTAssertEqual(seen.sorted(), examples.map(\.source).sorted())
        XCTAssertEqual(report.trainedTokens, unpacked.reduce(0) { $0 + $1.trainedTokenCount })
    }

    /// A dataset file through to sequences, as `loom finetune` chains them: a bad line is
    /// reported and skipped, the rest is rendered with SmolLM2's template and packed.
    func testFileToPackedSequences() throws {
        let path = NSTemporaryDirectory() + "loom-e2e-\(UUID().uuidString).jsonl"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try """
            {"instruction": "What is a block?", "output": "A batch of transactions."}
            {"instruction": "What is a hash?"}
            {"instruction": "Define gas.", "input": "Ethereum", "output": "The fee unit for computation."}
            """.write(toFile: path, atomically: true, encoding: .utf8)
        let data = try DatasetLoader.load(path: path)
        XCTAssertEqual(data.issues.map(\.description), ["\(path): line 2: missing field \"output\""])
        var config = FineTuneConfig()
        config.cutoffLength = 256
        config.packing = true
        let (sequences, report) = try TrainingDataBuilder(tokenizer: tokenizer(), config: config).build(data.examples)
        XCTAssertEqual(sequences.count, 1)
        XCTAssertEqual(sequences[0].sources, ["\(path): line 3", "\(path): line 1"])  // longest first
        XCTAssertEqual(report.examples, 2)
        let trained = try tokenizer().tokenizer.decode(sequences[0].labels.filter { $0 != TrainingSequence.ignoreIndex })
        XCTAssertEqual(trained, "The fee unit for computation.<|im_end|>\nA batch of transactions.<|im_end|>\n")
        XCTAssertTrue(report.description.hasPrefix("2 examples → 1 sequence, "), report.description)
    }

    /// LLaMA-Factory's `infer_seqlen` on its three branches.
    func testInferSeqlen() {
        XCTAssertEqual(SequenceTruncation.inferSeqlen(100, 10, 50).0, 40)   // short response: cut the prompt
        XCTAssertEqual(SequenceTruncation.inferSeqlen(100, 10, 50).1, 10)
        XCTAssertEqual(SequenceTruncation.inferSeqlen(10, 100, 50).0, 10)   // short prompt: cut the response
        XCTAssertEqual(SequenceTruncation.inferSeqlen(10, 100, 50).1, 40)
        XCTAssertEqual(SequenceTruncation.inferSeqlen(60, 40, 50).0, 30)    // both: int(50 × 0.4) = 20 for the response
        XCTAssertEqual(SequenceTruncation.inferSeqlen(60, 40, 50).1, 20)
        XCTAssertEqual(SequenceTruncation.inferSeqlen(3, 4, 50).0, 3)
        XCTAssertEqual(SequenceTruncation.inferSeqlen(3, 4, 50).1, 4)
    }

    /// Two turns, cutoff 10: turn 1 (prompt 4, answer 3) fits; turn 2 (prompt 5, answer 4) gets
    /// the 3 tokens left, int(3 × 4/9) = 1 for the answer and 2 for the prompt.
    func testPerTurnTruncation() {
        let ids = Array(100..<116)
        var labels = Array(repeating: -100, count: 16)
        for i in [4, 5, 6, 12, 13, 14, 15] { labels[i] = ids[i] }
        let sequence = TrainingSequence(inputIDs: ids, labels: labels, sources: ["x"])
        let cut = SequenceTruncation.perTurn.apply(sequence, targets: [4..<7, 12..<16], cutoff: 10)
        XCTAssertEqual(cut.inputIDs, [100, 101, 102, 103, 104, 105, 106, 107, 108, 112])
        XCTAssertEqual(cut.labels, [-100, -100, -100, -100, 104, 105, 106, -100, -100, 112])
        let start = SequenceTruncation.keepStart.apply(sequence, targets: [4..<7, 12..<16], cutoff: 10)
        XCTAssertEqual(start.inputIDs, Array(100..<110))
    }

    /// LLaMA-Factory's greedy_knapsack on plain lengths: [2, 3, 5, 7, 9] into 10 → [9], [7, 3], [5, 2].
    func testGreedyKnapsackGrouping() {
        let sequences = [5, 3, 9, 2, 7].enumerated().map { index, length in
            TrainingSequence(inputIDs: Array(repeating: index, count: length), labels: Array(repeating: 1, count: length), sources: ["\(index)"])
        }
        let packs = SequencePacker.pack(sequences, capacity: 10)
        XCTAssertEqual(packs.map(\.sources), [["2"], ["4", "1"], ["0", "3"]])
        XCTAssertEqual(packs[1].segmentIDs, Array(repeating: 0, count: 7) + Array(repeating: 1, count: 3))
        XCTAssertEqual(packs[1].positionIDs, Array(0..<7) + Array(0..<3))
        XCTAssertEqual(packs[1].labels, [-100] + Array(repeating: 1, count: 6) + [-100, 1, 1])
    }
}
