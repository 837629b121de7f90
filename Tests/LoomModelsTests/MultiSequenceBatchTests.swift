import XCTest
@testable import LoomKernels
@testable import LoomModels

/// The batched multi-slot forward pass must give the same logits as evaluating each
/// sequence alone in an ``InferenceSession`` (the independent single-sequence path).
final class MultiSequenceBatchTests: XCTestCase {
    static func relativeError(_ a: UnsafeBufferPointer<Float>, _ b: [Float]) -> Float {
        var worst: Float = 0
        let scale = max(b.map { abs($0) }.max() ?? 1, 1)
        for i in 0..<b.count { worst = max(worst, abs(a[i] - b[i]) / scale) }
        return worst
    }

    func testInterleavedSequencesMatchSingleSessions() throws {
        // Exact comparison of the batching logic: single-token steps would otherwise take
        // the integer kernels (tested on their own in LoomKernelsTests) and batches the float ones.
        var floatPath = KernelOptions()
        floatPath.integerActivations = false
        let model = try LanguageModel(path: try TestModels.path("smollm2"))
        let pool = ThreadPool(threadCount: 2)
        let prompts = [
            "The capital of France is",
            "Once upon a time, in a small village by the sea, there lived an old fisherman who",
            "1, 2, 3,",
        ].map { model.tokenizer.encode($0) }
        // Continuations fed one token at a time after the prompts (fixed ids, any valid ones).
        let continuations = [[504, 1345, 260, 2848], [314, 253, 1115], [216, 34, 30, 216, 35]]

        // Reference: each full sequence alone, logits at every position.
        var expected: [[[Float]]] = []
        for (p, c) in zip(prompts, continuations) {
            let session = try model.makeSession(contextLength: 128, pool: pool, options: floatPath, cacheTypes: .f32)
            var rows: [[Float]] = []
            try session.evaluate(p + c) { _, logits in rows.append(Array(logits)) }
            expected.append(rows)
        }

        let batch = try MultiSequenceBatch(model: model, slots: 4, capacity: 128, maxTokens: 64, pool: pool, options: floatPath,
                                           cacheTypes: .f32)
        var worst: Float = 0
        var checked = 0
        // Step 1: prompt of sequence 0 (all logits) and of sequence 2 (last only) together.
        try batch.evaluate([
            .init(slot: 1, start: 0, tokens: prompts[0], allLogits: true),
            .init(slot: 3, start: 0, tokens: prompts[2]),
        ]) { s, i, logits in
            let seq = s == 0 ? 0 : 2
            let pos = s == 0 ? i : prompts[2].count - 1
            if s == 1 { XCTAssertEqual(i, prompts[2].count - 1) }
            worst = max(worst, Self.relativeError(logits, expected[seq][pos])); checked += 1
        }
        XCTAssertEqual(checked, prompts[0].count + 1)
        // Step 2: the long prompt joins while the others decode one token.
        var positions = [prompts[0].count, 0, prompts[2].count]
        var nextIndex = [0, 0, 0]
        let slotOf = [1, 0, 3]
        try batch.evaluate([
            .init(slot: 0, start: 0, tokens: prompts[1]),
            .init(slot: 1, start: positions[0], tokens: [continuations[0][0]]),
            .init(slot: 3, start: positions[2], tokens: [continuations[2][0]]),
        ]) { s, i, logits in
            let seq = [1, 0, 2][s]
            let pos = seq == 1 ? prompts[1].count - 1 : positions[seq]
            worst = max(worst, Self.relativeError(logits, expected[seq][pos])); checked += 1
        }
        positions = [positions[0] + 1, prompts[1].count, positions[2] + 1]
        nextIndex = [1, 0, 1]
        // Steps 3+: every unfinished sequence decodes its next token in one batch.
        while true {
            var segments: [MultiSequenceBatch.Segment] = []
            var seqs: [Int] = []
            for seq in 0..<3 where nextIndex[seq] < continuations[seq].count {
                segments.append(.init(slot: slotOf[seq], start: positions[seq], tokens: [continuations[seq][nextIndex[seq]]]))
                seqs.append(seq)
            }
            if segments.isEmpty { break }
            try batch.evaluate(segments) { s, _, logits in
                let seq = seqs[s]
                worst = max(worst, Self.relativeError(logits, expected[seq][positions[seq]])); checked += 1
            }
            for seq in seqs { positions[seq] += 1; nextIndex[seq] += 1 }
        }
        XCTAssertEqual(checked, prompts[0].count + 1 + 3 + 3 + 3 + 4)
        XCTAssertLessThanOrEqual(worst, 1e-4, "batched logits differ from single-sequence logits")
    }

    func testRejectsBadSegments() throws {
        let model = try LanguageModel(path: try TestModels.path("smollm2"))
        let batch = try MultiSequenceBatch(model: model, slots: 2, capacity: 8, maxTokens: 8, pool: ThreadPool(threadCount: 1))
        XCTAssertThrowsError(try batch.evaluate([.init(slot: 2, start: 0, tokens: [1])]) { _, _, _ in })
        XCTAssertThrowsError(try batch.evaluate([.init(slot: 0, start: 0, tokens: [1]), .init(slot: 0, start: 1, tokens: [1])]) { _, _, _ in })
        XCTAssertThrowsError(try batch.evaluate([.init(slot: 0, start: 7, tokens: [1, 2])]) { _, _, _ in })
        XCTAssertThrowsError(try batch.evaluate([.init(slot: 0, start: 0, tokens: [-1])]) { _, _, _ in })
        XCTAssertThrowsError(try batch.evaluate([.init(slot: 0, start: 0, tokens: Array(repeating: 1, count: 9))]) { _, _, _ in })
    }
}
