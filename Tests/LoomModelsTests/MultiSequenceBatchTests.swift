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

    /// Three prompts of different lengths.
    static func prompts(_ model: LanguageModel) -> [[Int]] {
        ["The capital of France is",
         "Once upon a time, in a small village by the sea, there lived an old fisherman who",
         "1, 2, 3,"].map { model.tokenizer.encode($0) }
    }

    /// Continuations fed one token at a time after the prompts (fixed ids, any valid ones).
    static let continuations = [[504, 1345, 260, 2848], [314, 253, 1115], [216, 34, 30, 216, 35]]

    func testInterleavedSequencesMatchSingleSessions() throws {
        // Exact comparison of the batching logic: single-token steps would otherwise take
        // the integer kernels (tested on their own in LoomKernelsTests) and batches the float ones.
        var floatPath = KernelOptions()
        floatPath.integerActivations = false
        let model = try LanguageModel(path: try TestModels.path("smollm2"))
        let pool = ThreadPool(threadCount: 2)
        let prompts = Self.prompts(model)
        let continuations = Self.continuations

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

    /// With the default kernels (integer activations, f16 cache) and batch invariance, every
    /// row's logits are bit for bit those of its sequence evaluated alone: prompt rows those of
    /// the prompt alone, decode rows those of one-token steps, whatever shares the step
    /// (prompts of other lengths, a mix of prompt and decode rows, decode batches of 3 and 1).
    func testRowsAreBatchInvariantWithDefaultKernels() throws {
        let model = try LanguageModel(path: try TestModels.path("smollm2"))
        let pool = ThreadPool(threadCount: 2)
        let prompts = Self.prompts(model)
        let continuations = Self.continuations

        // Reference: each sequence alone, its prompt as one prompt evaluation, then one token at a time.
        var expected: [[[UInt32]]] = []
        for (p, c) in zip(prompts, continuations) {
            let session = try model.makeSession(contextLength: 128, pool: pool)
            var rows: [[UInt32]] = []
            try session.evaluate(p, asPrompt: true) { _, logits in rows.append(logits.map(\.bitPattern)) }
            for token in c.dropLast() { rows.append(try session.evaluate([token]).map(\.bitPattern)) }
            expected.append(rows)
        }

        let batch = try MultiSequenceBatch(model: model, slots: 4, capacity: 128, maxTokens: 64, pool: pool)
        var mismatches: [String] = []
        var checked = 0
        func check(_ seq: Int, _ pos: Int, _ logits: UnsafeBufferPointer<Float>) {
            checked += 1
            if logits.map(\.bitPattern) != expected[seq][pos] { mismatches.append("sequence \(seq) position \(pos)") }
        }
        // Step 1: two prompts of different lengths together (all logits of the first).
        try batch.evaluate([
            .init(slot: 1, start: 0, tokens: prompts[0], allLogits: true, isPrompt: true),
            .init(slot: 3, start: 0, tokens: prompts[2], isPrompt: true),
        ]) { s, i, logits in check(s == 0 ? 0 : 2, s == 0 ? i : prompts[2].count - 1, logits) }
        // Step 2: the long prompt joins while the others decode one token.
        var positions = [prompts[0].count, prompts[1].count, prompts[2].count]
        try batch.evaluate([
            .init(slot: 0, start: 0, tokens: prompts[1], isPrompt: true),
            .init(slot: 1, start: positions[0], tokens: [continuations[0][0]]),
            .init(slot: 3, start: positions[2], tokens: [continuations[2][0]]),
        ]) { s, _, logits in
            let seq = [1, 0, 2][s]
            check(seq, seq == 1 ? prompts[1].count - 1 : positions[seq], logits)
        }
        positions[0] += 1; positions[2] += 1
        var next = [1, 0, 1]
        let slotOf = [1, 0, 3]
        // Steps 3+: decode batches of three, three and one.
        while true {
            var segments: [MultiSequenceBatch.Segment] = []
            var seqs: [Int] = []
            for seq in 0..<3 where next[seq] < continuations[seq].count - 1 {
                segments.append(.init(slot: slotOf[seq], start: positions[seq], tokens: [continuations[seq][next[seq]]]))
                seqs.append(seq)
            }
            if segments.isEmpty { break }
            try batch.evaluate(segments) { s, _, logits in check(seqs[s], positions[seqs[s]], logits) }
            for seq in seqs { positions[seq] += 1; next[seq] += 1 }
        }
        XCTAssertEqual(checked, prompts[0].count + 1 + 3 + 7)
        XCTAssertTrue(mismatches.isEmpty, "rows whose logits depend on the batch: \(mismatches)")
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
