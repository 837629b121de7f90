import Foundation
import XCTest
@testable import LoomKernels

final class AttentionTests: XCTestCase {
    func random(_ n: Int, _ seed: inout UInt64) -> [Float] {
        (0..<n).map { _ in
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int64(bitPattern: seed >> 11) % 2001 - 1000) / 500
        }
    }

    /// A cache of `positions` rows of `rowSize` elements stored as `type` (bytes as the KV
    /// cache holds them) and the floats the kernels must see (its dequantised values).
    struct StoredRows {
        let bytes: [UInt8]
        let floats: [Float]
        let type: GGMLType
        let rowSize: Int

        init(_ values: [Float], rowSize: Int, type: GGMLType) {
            self.type = type
            self.rowSize = rowSize
            bytes = RowQuantizer.quantize(type, values)
            var floats = [Float](repeating: .nan, count: values.count)
            bytes.withUnsafeBytes { RowKernels.dequantize(type, $0.baseAddress!, into: &floats, count: values.count) }
            self.floats = floats
        }

        /// `body` with the rows as the cache type, or (`asFloats`) as their float values.
        func with<R>(asFloats: Bool = false, _ body: (KVRows) -> R) -> R {
            if asFloats {
                return floats.withUnsafeBufferPointer { body(KVRows(floats: $0.baseAddress!, rowStride: rowSize)) }
            }
            return bytes.withUnsafeBytes { body(KVRows(base: $0.baseAddress!, type: type, rowBytes: type.byteCount(elements: rowSize))) }
        }
    }

    /// ``Attention/causal`` over keys and values stored as `type` (or their float values).
    func causal(_ q: [Float], _ k: StoredRows, _ v: StoredRows, asFloats: Bool = false, start: Int, tokens: Int,
                heads: Int, kvHeads: Int, hd: Int, pool: ThreadPool = ThreadPool(threadCount: 2)) -> [Float] {
        var out = [Float](repeating: .nan, count: tokens * heads * hd)
        k.with(asFloats: asFloats) { keys in
            v.with(asFloats: asFloats) { values in
                Attention.causal(queries: q, keys: keys, values: values, start: start, tokens: tokens, heads: heads,
                                 kvHeads: kvHeads, headDim: hd, output: &out, pool: pool)
            }
        }
        return out
    }

    /// Causal GQA attention against a direct double-precision evaluation of its definition.
    func testCausalGroupedAttentionMatchesDefinition() {
        checkAttention(heads: 6, kvHeads: 2, hd: 16, start: 3, tokens: 4)
    }

    /// Prompt jobs of 32 rows with a partial last block (11 tokens × 7 heads = 77 rows), Qwen's
    /// grouping (7 query heads per KV head), a head size of 64 and a non-empty cache; a
    /// head size that is not a multiple of 16; one token.
    func testBlockedPromptAttentionMatchesDefinition() {
        checkAttention(heads: 14, kvHeads: 2, hd: 64, start: 37, tokens: 11)
        checkAttention(heads: 4, kvHeads: 4, hd: 32, start: 0, tokens: 8)
        checkAttention(heads: 4, kvHeads: 2, hd: 24, start: 5, tokens: 6)
        checkAttention(heads: 4, kvHeads: 1, hd: 16, start: 9, tokens: 1)
    }

    /// Decode (one token) of SmolLM2's shape against the definition: groups of three heads
    /// per job, scores in 4-position blocks plus a tail, the one-pass value sum for 64-float
    /// heads, and more positions than the prefetch lead.
    func testDecodeAttentionMatchesDefinition() {
        checkAttention(heads: 9, kvHeads: 3, hd: 64, start: 41, tokens: 1)
        checkAttention(heads: 14, kvHeads: 2, hd: 64, start: 2, tokens: 1)
    }

    /// Every cache type against the definition (over its stored values) at 1, 7, 64 and
    /// 4 097 visible positions: a partial tile, exactly one tile, and 65 tiles with a
    /// one-row tail, for decode, the blocked prompt path and single prompt tokens.
    func testEveryCacheTypeMatchesDefinitionAcrossTiles() {
        for type in [GGMLType.f16, .bf16, .q8_0, .q4_0, .q5_1] {
            checkAttention(heads: 9, kvHeads: 3, hd: 64, start: 0, tokens: 1, type: type)
            checkAttention(heads: 14, kvHeads: 2, hd: 64, start: 0, tokens: 7, type: type)
            checkAttention(heads: 4, kvHeads: 2, hd: 32, start: 57, tokens: 7, type: type)
            checkAttention(heads: 4, kvHeads: 1, hd: 64, start: 4096, tokens: 1, type: type)
            checkAttention(heads: 4, kvHeads: 2, hd: 64, start: 4091, tokens: 6, type: type)
        }
        // A head size that is not a multiple of 16 (scalar lanes after the 16-lane chunk), over tiles.
        checkAttention(heads: 4, kvHeads: 2, hd: 24, start: 70, tokens: 6, type: .f16)
    }

    /// A cache of any type gives, bit for bit, what the float kernels give over the float
    /// values it stores: tiles are dequantised exactly and the value sums continue across
    /// tiles in the same order.
    func testTypedCacheIsBitIdenticalToFloatsOfItsValues() {
        for type in [GGMLType.f16, .bf16, .q8_0, .q4_0] {
            for (heads, kvHeads, start, tokens) in [(9, 3, 150, 1), (14, 2, 70, 9), (8, 2, 0, 3), (9, 3, 200, 2)] {
                let hd = 64
                var seed = UInt64(start * 7 + tokens)
                let q = random(tokens * heads * hd, &seed)
                let k = StoredRows(random((start + tokens) * kvHeads * hd, &seed), rowSize: kvHeads * hd, type: type)
                let v = StoredRows(random((start + tokens) * kvHeads * hd, &seed), rowSize: kvHeads * hd, type: type)
                let typed = causal(q, k, v, start: start, tokens: tokens, heads: heads, kvHeads: kvHeads, hd: hd)
                let floats = causal(q, k, v, asFloats: true, start: start, tokens: tokens, heads: heads, kvHeads: kvHeads, hd: hd)
                XCTAssertEqual(typed.map(\.bitPattern), floats.map(\.bitPattern), "\(type) \(heads)/\(kvHeads) start \(start) tokens \(tokens)")
            }
        }
    }

    /// A token's output is bit-identical whether it is attended inside a prompt job or alone
    /// as a decode step (what makes a re-evaluated prompt tail give exactly a fresh request's
    /// logits, and a batched verification step exactly what decoding gives), with a float and
    /// an f16 cache, a head size of 64 and one that is not a multiple of 16.
    func testPromptAndDecodePathsAreBitIdentical() {
        for (type, hd) in [(GGMLType.f32, 64), (.f16, 64), (.f32, 24)] {
            let heads = 14, kvHeads = 2, start = 75, tokens = 9
            var seed: UInt64 = 99
            let q = random(tokens * heads * hd, &seed)
            let k = StoredRows(random((start + tokens) * kvHeads * hd, &seed), rowSize: kvHeads * hd, type: type)
            let v = StoredRows(random((start + tokens) * kvHeads * hd, &seed), rowSize: kvHeads * hd, type: type)
            let batched = causal(q, k, v, start: start, tokens: tokens, heads: heads, kvHeads: kvHeads, hd: hd)
            for t in 0..<tokens {
                let single = causal(Array(q[(t * heads * hd)..<((t + 1) * heads * hd)]), k, v, start: start + t, tokens: 1,
                                    heads: heads, kvHeads: kvHeads, hd: hd)
                XCTAssertEqual(single.map(\.bitPattern), batched[(t * heads * hd)..<((t + 1) * heads * hd)].map(\.bitPattern),
                               "\(type) token \(t)")
            }
        }
    }

    /// A prompt cut into chunks gives, bit for bit, what the whole prompt gives: a row's
    /// result does not depend on which rows share its job (jobs of 32 rows start at other
    /// tokens), for SmolLM2's and Qwen2.5's groupings and an f16 and a q8_0 cache, across tiles.
    func testPromptChunkingDoesNotChangeResults() {
        for type in [GGMLType.f16, .q8_0] {
            for (heads, kvHeads) in [(9, 3), (14, 2)] {
                let hd = 64, start = 50, tokens = 40
                var seed = UInt64(heads + 5)
                let q = random(tokens * heads * hd, &seed)
                let k = StoredRows(random((start + tokens) * kvHeads * hd, &seed), rowSize: kvHeads * hd, type: type)
                let v = StoredRows(random((start + tokens) * kvHeads * hd, &seed), rowSize: kvHeads * hd, type: type)
                let whole = causal(q, k, v, start: start, tokens: tokens, heads: heads, kvHeads: kvHeads, hd: hd)
                for cut in [4, 7, 13, 33] {
                    let width = heads * hd
                    let head = causal(Array(q[0..<(cut * width)]), k, v, start: start, tokens: cut, heads: heads, kvHeads: kvHeads, hd: hd)
                    let tail = causal(Array(q[(cut * width)...]), k, v, start: start + cut, tokens: tokens - cut,
                                      heads: heads, kvHeads: kvHeads, hd: hd)
                    XCTAssertEqual((head + tail).map(\.bitPattern), whole.map(\.bitPattern), "\(type) \(heads)/\(kvHeads) cut at \(cut)")
                }
            }
        }
    }

    /// Decode jobs of several query heads per KV head (``Attention/decode``, as a server step
    /// of several sequences runs them) give, bit for bit, what one head at a time gives
    /// (``Attention/attendOne``), for groups of 3 (SmolLM2), 4 and 7 (Qwen2.5) heads, each
    /// token over its own cache and length, with float and q8_0 caches (whose lengths cross tiles).
    func testGroupedDecodeMatchesOneHeadAtATime() {
        for type in [GGMLType.f32, .q8_0] {
            for (heads, kvHeads) in [(9, 3), (8, 2), (14, 2)] {
                let hd = 64, tokens = 8, capacity = 140
                var seed: UInt64 = UInt64(heads * 31 + kvHeads)
                let q = random(tokens * heads * hd, &seed)
                let kvStride = kvHeads * hd
                let caches = (0..<tokens).map { _ in
                    (StoredRows(random(capacity * kvStride, &seed), rowSize: kvStride, type: type),
                     StoredRows(random(capacity * kvStride, &seed), rowSize: kvStride, type: type))
                }
                let positions = (0..<tokens).map { 1 + (37 * $0 + 3) % capacity }
                let group = heads / kvHeads
                XCTAssertGreaterThan(Attention.headsPerJob(tokens: tokens, kvHeads: kvHeads, group: group, threads: 2), 2)
                // Stable copies of the rows for the closure (the caches' own bytes).
                let keyBytes = caches.map { c -> UnsafeMutableRawPointer in
                    let p = UnsafeMutableRawPointer.allocate(byteCount: c.0.bytes.count, alignment: 64)
                    c.0.bytes.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
                    return p
                }
                let valueBytes = caches.map { c -> UnsafeMutableRawPointer in
                    let p = UnsafeMutableRawPointer.allocate(byteCount: c.1.bytes.count, alignment: 64)
                    c.1.bytes.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
                    return p
                }
                defer { (keyBytes + valueBytes).forEach { $0.deallocate() } }
                let rowBytes = type.byteCount(elements: kvStride)
                let keys = keyBytes.map { KVRows(base: $0, type: type, rowBytes: rowBytes) }
                let values = valueBytes.map { KVRows(base: $0, type: type, rowBytes: rowBytes) }
                var grouped = [Float](repeating: .nan, count: tokens * heads * hd)
                q.withUnsafeBufferPointer { qb in
                    grouped.withUnsafeMutableBufferPointer { out in
                        Attention.decode(queries: qb.baseAddress!, tokens: tokens, heads: heads, kvHeads: kvHeads, headDim: hd,
                                         cache: { (keys[$0], values[$0], positions[$0]) },
                                         output: out.baseAddress!, pool: ThreadPool(threadCount: 2))
                    }
                    var scratch = [Float](repeating: 0, count: Attention.scratchFloats(blocks: 1, headDim: hd))
                    var single = [Float](repeating: .nan, count: hd)
                    for t in 0..<tokens {
                        for h in 0..<heads {
                            let offset = (h / group) * hd
                            Attention.attendOne(query: qb.baseAddress! + (t * heads + h) * hd,
                                                keys: keys[t].advanced(positions: 0, elements: offset),
                                                values: values[t].advanced(positions: 0, elements: offset),
                                                positions: positions[t], headDim: hd, scale: 1 / Float(hd).squareRoot(),
                                                scratch: &scratch, output: &single)
                            let base = (t * heads + h) * hd
                            XCTAssertEqual(single.map(\.bitPattern), grouped[base..<(base + hd)].map(\.bitPattern),
                                           "\(type) \(heads)/\(kvHeads) t \(t) h \(h)")
                        }
                    }
                }
            }
        }
    }

    /// Jobs take whole groups of up to four heads as long as every thread still gets a job.
    func testHeadsPerJobTakesLargeGroupsWhileEveryThreadHasAJob() {
        XCTAssertEqual(Attention.headsPerJob(tokens: 1, kvHeads: 3, group: 3, threads: 1), 3)
        XCTAssertEqual(Attention.headsPerJob(tokens: 1, kvHeads: 3, group: 3, threads: 2), 3)
        XCTAssertEqual(Attention.headsPerJob(tokens: 8, kvHeads: 3, group: 3, threads: 2), 3)
        XCTAssertEqual(Attention.headsPerJob(tokens: 1, kvHeads: 2, group: 7, threads: 2), 4)
        XCTAssertEqual(Attention.headsPerJob(tokens: 8, kvHeads: 2, group: 7, threads: 2), 4)
        // One KV head of four: four threads need one head per job; two threads get jobs of
        // three and one heads (the largest size that still makes two jobs).
        XCTAssertEqual(Attention.headsPerJob(tokens: 1, kvHeads: 1, group: 4, threads: 4), 1)
        XCTAssertEqual(Attention.headsPerJob(tokens: 1, kvHeads: 1, group: 4, threads: 2), 3)
    }

    /// Attention over a cache stored as `type` against the double-precision definition over
    /// the values that cache holds.
    func checkAttention(heads: Int, kvHeads: Int, hd: Int, start: Int, tokens: Int, type: GGMLType = .f32,
                        file: StaticString = #filePath, line: UInt = #line) {
        let positions = start + tokens
        var seed: UInt64 = 17
        let q = random(tokens * heads * hd, &seed)
        let keys = StoredRows(random(positions * kvHeads * hd, &seed), rowSize: kvHeads * hd, type: type)
        let values = StoredRows(random(positions * kvHeads * hd, &seed), rowSize: kvHeads * hd, type: type)
        let out = causal(q, keys, values, start: start, tokens: tokens, heads: heads, kvHeads: kvHeads, hd: hd)
        let k = keys.floats, v = values.floats
        for t in 0..<tokens {
            for h in 0..<heads {
                let g = h / (heads / kvHeads)
                let visible = start + t + 1
                var scores = (0..<visible).map { p -> Double in
                    var s = 0.0
                    for i in 0..<hd { s += Double(q[(t * heads + h) * hd + i]) * Double(k[(p * kvHeads + g) * hd + i]) }
                    return s / Double(hd).squareRoot()
                }
                let m = scores.max()!
                scores = scores.map { exp($0 - m) }
                let z = scores.reduce(0, +)
                for i in 0..<hd {
                    var acc = 0.0
                    for p in 0..<visible { acc += scores[p] / z * Double(v[(p * kvHeads + g) * hd + i]) }
                    XCTAssertEqual(Double(out[(t * heads + h) * hd + i]), acc, accuracy: 1e-4, "\(type) t \(t) h \(h) i \(i)",
                                   file: file, line: line)
                }
            }
        }
    }

    /// The two pair layouts agree once the rows are permuted as llama.cpp's converter does
    /// (HF row half·(d/2)+i ↔ GGUF row 2i+half): the fact GGUF llama support rests on.
    func testAdjacentLayoutEqualsHalfSplitOnPermutedHead() {
        let hd = 8
        var seed: UInt64 = 3
        let hf = random(hd, &seed)
        var gguf = [Float](repeating: 0, count: hd)
        for half in 0..<2 { for i in 0..<hd / 2 { gguf[2 * i + half] = hf[half * hd / 2 + i] } }
        let neox = RotaryEmbedding(layout: .halfSplit, dimensions: hd, base: 10_000)
        let norm = RotaryEmbedding(layout: .adjacent, dimensions: hd, base: 10_000)
        var table = [Float](repeating: 0, count: hd)
        neox.fillTable(position: 7, into: &table)
        var a = hf, b = gguf
        neox.apply(&a, heads: 1, headDim: hd, table: table)
        norm.apply(&b, heads: 1, headDim: hd, table: table)
        for half in 0..<2 {
            for i in 0..<hd / 2 { XCTAssertEqual(b[2 * i + half], a[half * hd / 2 + i], accuracy: 1e-5) }
        }
    }

    /// RoPE angles: θ_i = pos · base^(-2i/d) / factor_i · scale.
    func testRotaryTableFollowsFormula() {
        let rope = RotaryEmbedding(layout: .halfSplit, dimensions: 8, base: 500_000, frequencyFactors: [1, 2, 4, 8], positionScale: 0.5)
        var table = [Float](repeating: 0, count: 8)
        rope.fillTable(position: 1000, into: &table)
        for i in 0..<4 {
            let angle = 1000 * pow(500_000, -2 * Double(i) / 8) / pow(2, Double(i)) * 0.5
            XCTAssertEqual(Double(table[i]), cos(angle), accuracy: 1e-6)
            XCTAssertEqual(Double(table[4 + i]), sin(angle), accuracy: 1e-6)
        }
    }

    func testRMSNormAndSwiGLU() {
        let x: [Float] = (0..<37).map { Float($0) - 18 }
        let w: [Float] = (0..<37).map { 1 + Float($0) / 37 }
        var out = [Float](repeating: 0, count: 37)
        VectorOps.rmsNorm(x, weight: w, eps: 1e-5, into: &out, count: 37)
        let rms = (x.reduce(0.0) { $0 + Double($1 * $1) } / 37 + 1e-5).squareRoot()
        for i in 0..<37 { XCTAssertEqual(Double(out[i]), Double(x[i]) / rms * Double(w[i]), accuracy: 1e-5) }
        var g: [Float] = [-3, -0.5, 0, 0.5, 3]
        let u: [Float] = [1, 2, 3, 4, 5]
        VectorOps.swiglu(&g, up: u, count: 5)
        for (i, gi) in [-3.0, -0.5, 0, 0.5, 3].enumerated() {
            XCTAssertEqual(Double(g[i]), gi / (1 + exp(-gi)) * Double(u[i]), accuracy: 1e-6)
        }
    }

    /// The vector exponential against double-precision `exp` on random inputs over its whole
    /// range (≤ 2 ulp of the float result), the clamped ends, and softmax / SwiGLU of every
    /// length 1…40 (vector body and padded tail) against the definitions.
    func testVectorExponentialSoftmaxAndSwiGLUMatchDefinitions() {
        var rng = SplitMix64(seed: 31)
        for _ in 0..<2000 {
            var v = SIMD16<Float>()
            for k in 0..<16 { v[k] = Float.random(in: -87...88, using: &rng) }
            let e = VectorOps.exponential(v)
            for k in 0..<16 {
                let want = exp(Double(v[k]))
                XCTAssertLessThanOrEqual(abs(Double(e[k]) - want), 2 * Double(Float(want).ulp), "e^\(v[k])")
            }
        }
        XCTAssertEqual(VectorOps.exponential(SIMD16<Float>())[3], 1)
        XCTAssertLessThan(VectorOps.exponential(SIMD16<Float>(repeating: -.infinity))[0], 1e-37)
        XCTAssertTrue(VectorOps.exponential(SIMD16<Float>(repeating: 500))[0].isFinite)
        let four = VectorOps.exponential(SIMD4<Float>(-1, 0, 1, 2))
        for (k, x) in [-1.0, 0, 1, 2].enumerated() { XCTAssertEqual(Double(four[k]), exp(x), accuracy: 2 * Double(Float(exp(x)).ulp)) }
        for count in 1...40 {
            let x = (0..<count).map { _ in Float.random(in: -20...20, using: &rng) }
            var p = x
            VectorOps.softmax(&p, count: count)
            let m = Double(x.max()!)
            let total = x.reduce(0.0) { $0 + exp(Double($1) - m) }
            for i in 0..<count { XCTAssertEqual(Double(p[i]), exp(Double(x[i]) - m) / total, accuracy: 1e-6, "softmax \(count) [\(i)]") }
            var g = (0..<count).map { _ in Float.random(in: -10...10, using: &rng) }
            let g0 = g
            let u = (0..<count).map { _ in Float.random(in: -2...2, using: &rng) }
            VectorOps.swiglu(&g, up: u, count: count)
            for i in 0..<count {
                let gi = Double(g0[i])
                XCTAssertEqual(Double(g[i]), gi / (1 + exp(-gi)) * Double(u[i]), accuracy: 1e-5, "swiglu \(count) [\(i)]")
            }
        }
    }
}
