import XCTest
@testable import LoomKernels

/// The Q4_1/Q5_1 decode kernels of IntegerDotOffset.swift and the batch path that reproduces
/// them (``IntegerLaneBatchKernel`` for batch-invariant decode rows): the one-token kernel
/// against its definition spelled out here (bit for bit), the four-row kernel against the
/// one-row kernel, and every token of a batch against the token alone, for several batch
/// sizes, ragged row and column counts, biases and thread counts. (The Double reference for
/// the one-row kernel is in ``IntegerRowKernelsTests``, for the lane kernel in
/// ``IntegerLaneBatchKernelTests``.)
final class OffsetIntegerKernelTests: XCTestCase {
    static let types: [GGMLType] = [.q4_1, .q5_1]

    /// The unsigned codes of a Q4_1 or Q5_1 row, decoded from the bytes by ggml's layout
    /// (element j: low nibble of qs[j], element j + 16: high nibble; Q5_1's bit j of qh is 16).
    func codes(_ type: GGMLType, _ bytes: [UInt8], blocks: Int) -> [Int] {
        var q: [Int] = []
        for b in 0..<blocks {
            let p = b * type.blockBytes
            let qsOffset = type == .q4_1 ? 4 : 8
            let qh = type == .q4_1 ? 0 : (0..<4).reduce(0) { $0 | Int(bytes[p + 4 + $1]) << (8 * $1) }
            for j in 0..<32 {
                let byte = Int(bytes[p + qsOffset + j % 16])
                let nibble = j < 16 ? byte & 0x0F : byte >> 4
                q.append(nibble | ((qh >> j) & 1) << 4)
            }
        }
        return q
    }

    /// The arithmetic the file header of IntegerDotOffset.swift defines: per block the exact
    /// integer Σ q·x, then two fused multiply-adds into one float, in block order.
    func definition(_ type: GGMLType, _ bytes: [UInt8], _ a: QuantizedActivations, blocks: Int) -> Float {
        let q = codes(type, bytes, blocks: blocks)
        func half(_ offset: Int) -> Float { Float(Float16(bitPattern: UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8)) }
        var f: Float = 0
        for b in 0..<blocks {
            var t = 0
            for i in 0..<32 { t += q[32 * b + i] * Int(a.codes[32 * b + i]) }
            f = f.addingProduct(Float(t), half(b * type.blockBytes) * a.scales[b])
            f = f.addingProduct(half(b * type.blockBytes + 2), a.sums[b])
        }
        return f
    }

    func offsetDot(_ type: GGMLType, _ row: UnsafeRawPointer, _ a: ActivationBlocks, blocks: Int) -> Float {
        type == .q4_1 ? LoomKernels.offsetDot(BlockQ4_1.self, row, a, blocks: blocks) : LoomKernels.offsetDot(BlockQ5_1.self, row, a, blocks: blocks)
    }

    func offsetDotFourRows(_ type: GGMLType, _ row: UnsafeRawPointer, rowBytes: Int, _ a: ActivationBlocks, blocks: Int) -> SIMD4<Float> {
        type == .q4_1 ? LoomKernels.offsetDotFourRows(BlockQ4_1.self, row, rowBytes: rowBytes, a, blocks: blocks)
            : LoomKernels.offsetDotFourRows(BlockQ5_1.self, row, rowBytes: rowBytes, a, blocks: blocks)
    }

    func testKernelsAreTheirDefinition() {
        for type in Self.types {
            for blocks in [1, 2, 3, 5, 18, 48] {
                for trial in 0..<4 {
                    var rng = SplitMix64(seed: UInt64(type.rawValue) << 32 | UInt64(blocks) << 8 | UInt64(trial))
                    let count = 32 * blocks
                    var bytes = TestData.randomRow(type, count: 4 * count, &rng)
                    var x = TestData.randomFloats(count, &rng)
                    if trial == 0 {
                        // Largest codes on both sides: every weight code 15 (31), every
                        // activation code ±511, which the 32-bit sums must hold.
                        for b in 0..<4 * blocks {
                            for k in 4..<type.blockBytes { bytes[b * type.blockBytes + k] = 0xFF }
                        }
                        for i in 0..<count { x[i] = i % 3 == 0 ? -7 : 7 }
                    }
                    let a = QuantizedActivations()
                    a.quantize(x, count: count)
                    let rowBytes = type.byteCount(elements: count)
                    let rows = GuardedBuffer(bytes: bytes.count)  // an over-read crashes
                    rows.start.copyMemory(from: bytes, byteCount: bytes.count)
                    let label = "\(type), \(blocks) blocks, trial \(trial)"
                    var want: [Float] = []
                    for r in 0..<4 {
                        let row = Array(bytes[r * rowBytes..<(r + 1) * rowBytes])
                        want.append(definition(type, row, a, blocks: blocks))
                        let got = offsetDot(type, rows.start + r * rowBytes, ActivationBlocks(a), blocks: blocks)
                        XCTAssertEqual(got.bitPattern, want[r].bitPattern, "\(label), row \(r): \(got) vs \(want[r])")
                        // A row alone in all four lanes.
                        let alone = offsetDotFourRows(type, rows.start + r * rowBytes, rowBytes: 0, ActivationBlocks(a), blocks: blocks)
                        for k in 0..<4 { XCTAssertEqual(alone[k].bitPattern, want[r].bitPattern, "\(label), row \(r) alone, lane \(k)") }
                    }
                    let four = offsetDotFourRows(type, rows.start, rowBytes: rowBytes, ActivationBlocks(a), blocks: blocks)
                    assertBitwiseEqual([four[0], four[1], four[2], four[3]], want, "\(label), four rows")
                    if !IntegerDotBytes.isNative {
                        // What decode runs on this build.
                        let dot = IntegerRowKernels.dot(type, rows.start, a, count: count)
                        XCTAssertEqual(dot.bitPattern, want[0].bitPattern, "\(label), IntegerRowKernels.dot")
                        let group = IntegerRowKernels.dotFourRows(type, rows.start, rowBytes: rowBytes, ActivationBlocks(a), count: count)
                        assertBitwiseEqual([group[0], group[1], group[2], group[3]], want, "\(label), dotFourRows")
                    }
                }
            }
        }
    }

    /// `y[t·rows + r]` for every token of `x` through `MatMul` with `options`.
    func product(_ type: GGMLType, _ bytes: [UInt8], rows: Int, columns: Int, bias: [Float]?, _ x: [Float], tokens: Int,
                 threads: Int, options: KernelOptions) -> [Float] {
        var y = [Float](repeating: .nan, count: rows * tokens)
        bytes.withUnsafeBytes { raw in
            let w = WeightMatrix(type: type, rows: rows, columns: columns, base: raw.baseAddress!)
            y.withUnsafeMutableBufferPointer { out in
                if let bias {
                    bias.withUnsafeBufferPointer { b in
                        MatMul.multiply(MatMulTarget(w, out.baseAddress!, bias: b.baseAddress), nil, nil, x, tokens: tokens,
                                        pool: ThreadPool(threadCount: threads), batch: .decode, options: options)
                    }
                } else {
                    MatMul.multiply(w, x, tokens: tokens, into: out.baseAddress!, pool: ThreadPool(threadCount: threads), batch: .decode, options: options)
                }
            }
        }
        return y
    }

    /// Batch-invariant decode rows, any batch size (several lane groups included), equal the
    /// token alone; so do the small-batch kernels' steps of up to 8 tokens (the server's
    /// default kernels), which take the same lane kernel.
    func testBatchRowsEqualOneTokenProducts() {
        var rng = SplitMix64(seed: 4242)
        for type in Self.types {
            for (rows, columns) in [(1, 32), (3, 96), (13, 576), (70, 160), (130, 64)] {
                let bytes = TestData.randomRow(type, count: rows * columns, &rng)
                let bias: [Float]? = rows % 2 == 1 ? TestData.randomFloats(rows, &rng) : nil
                for tokens in [2, 5, 8, 9, 10, 12, 16, 19] {  // 9, 10, 19: the last 1–3 through the one-token kernel
                    let x = TestData.randomFloats(tokens * columns, &rng)
                    for threads in [1, 2] {
                        let batch = product(type, bytes, rows: rows, columns: columns, bias: bias, x, tokens: tokens, threads: threads, options: .default)
                        let small = tokens <= IntegerLaneBatchKernel.maxTokens
                            ? product(type, bytes, rows: rows, columns: columns, bias: bias, x, tokens: tokens, threads: threads, options: .smallBatchKernels) : nil
                        for t in 0..<tokens {
                            let alone = product(type, bytes, rows: rows, columns: columns, bias: bias, Array(x[t * columns..<(t + 1) * columns]),
                                                tokens: 1, threads: threads, options: .default)
                            let label = "\(type) \(rows)×\(columns), token \(t) of \(tokens), \(threads) threads"
                            assertBitwiseEqual(Array(batch[t * rows..<(t + 1) * rows]), alone, label)
                            if let small, !IntegerDotBytes.isNative {
                                assertBitwiseEqual(Array(small[t * rows..<(t + 1) * rows]), alone, "\(label), small-batch kernels")
                            }
                        }
                    }
                }
            }
        }
    }

    /// The lane kernel itself (not through `MatMul`'s choice of path) on prepared groups of
    /// already-quantised tokens, against the one-token kernel per token: the pairing the
    /// batch-invariant path relies on, checked where it is used (no native byte dot).
    func testLaneKernelReproducesTheOneTokenKernel() throws {
        try XCTSkipIf(IntegerDotBytes.isNative, "the byte dot is the one-token kernel on this build; the lane kernel is not used for exact rows")
        var rng = SplitMix64(seed: 77)
        for type in Self.types {
            XCTAssert(MatMul.laneKernelMatchesOneToken(type))
            for (rows, columns, tokens) in [(1, 32, 1), (7, 64, 3), (64, 576, 8), (77, 96, 11), (9, 1536, 17)] {
                let bytes = TestData.randomRow(type, count: rows * columns, &rng)
                let x = TestData.randomFloats(tokens * columns, &rng)
                let set = TokenActivationSet()
                let activations = x.withUnsafeBufferPointer { set.quantize($0.baseAddress!, columns: columns, tokens: tokens) }
                let groups = (tokens + 7) / 8
                let prepared = UnsafeMutableRawPointer.allocate(byteCount: 4 * groups * IntegerLaneBatchKernel.preparedWords(columns: columns), alignment: 64)
                defer { prepared.deallocate() }
                IntegerLaneBatchKernel.prepare(activations, tokens: tokens, columns: columns, into: prepared)
                let scratch = UnsafeMutableRawPointer.allocate(byteCount: 4 * IntegerLaneBatchKernel.tileWords(rows: MatMul.laneTileRows, columns: columns), alignment: 64)
                defer { scratch.deallocate() }
                var y = [Float](repeating: .nan, count: rows * tokens)
                bytes.withUnsafeBytes { raw in
                    let w = WeightMatrix(type: type, rows: rows, columns: columns, base: raw.baseAddress!)
                    y.withUnsafeMutableBufferPointer { out in
                        MatMul.multiplyRowsLaneBatch(MatMulTarget(w, out.baseAddress!), 0..<rows, UnsafeRawPointer(prepared), tokens: tokens,
                                                     prefetchDistance: 0, scratch: scratch)
                    }
                    for t in 0..<tokens {
                        let want = (0..<rows).map { r in
                            IntegerRowKernels.dot(type, w.row(r), activations[t], count: columns)
                        }
                        assertBitwiseEqual(Array(y[t * rows..<(t + 1) * rows]), want, "\(type) \(rows)×\(columns), token \(t) of \(tokens)")
                    }
                }
            }
        }
    }
}
