import Foundation
import XCTest
import LoomFormats
import LoomKernels
@testable import LoomModels

/// LoRA attached at run time (unmerged) against the same model with `s·B·A` merged into its
/// stored weights (written by Loom's GGUF writer), on the synthetic llama: every projection,
/// DoRA, two adapters with scales, the Q/K row order of Hugging Face adapters on a GGUF llama,
/// detaching, and the errors for adapters that do not fit.
final class LoRARuntimeTests: XCTestCase {
    /// (GGUF tensor, rows, columns) of every projection of the synthetic model.
    static func projections(_ m: SyntheticModel) -> [(String, Int, Int)] {
        let d = m.embedding, hd = m.embedding / m.heads, q = m.heads * hd, kv = m.kvHeads * hd, ffn = m.feedForward
        var list: [(String, Int, Int)] = [("output.weight", m.vocabulary, d)]
        for l in 0..<m.layers {
            list += [("blk.\(l).attn_q.weight", q, d), ("blk.\(l).attn_k.weight", kv, d), ("blk.\(l).attn_v.weight", kv, d),
                     ("blk.\(l).attn_output.weight", d, q), ("blk.\(l).ffn_gate.weight", ffn, d),
                     ("blk.\(l).ffn_up.weight", ffn, d), ("blk.\(l).ffn_down.weight", d, ffn)]
        }
        return list
    }

    static func randomModule(rows: Int, columns: Int, rank: Int, seed: UInt64, dora: Bool = false) -> LoRAAdapter.Module {
        var s = seed
        func next() -> Float {
            s = s &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return (Float(s >> 40) / Float(1 << 24) - 0.5) * 0.6
        }
        let a = (0..<rank * columns).map { _ in next() }, b = (0..<rows * rank).map { _ in next() }
        let magnitude = dora ? (0..<rows).map { _ in 1 + next() } : nil
        return LoRAAdapter.Module(rank: rank, inputs: columns, outputs: rows, a: a, b: b, scale: 0.75, magnitude: magnitude)
    }

    static func adapter(for m: SyntheticModel, rank: Int, seed: UInt64, space: LoRAAdapter.WeightSpace = .gguf,
                        dora: Bool = false, only: Set<String>? = nil) -> LoRAAdapter {
        var modules: [String: LoRAAdapter.Module] = [:]
        for (i, (name, rows, columns)) in projections(m).enumerated() where only?.contains(name) ?? true {
            modules[name] = randomModule(rows: rows, columns: columns, rank: rank, seed: seed &+ UInt64(i) &* 977, dora: dora)
        }
        return LoRAAdapter(path: "test-adapter-\(seed)", architecture: "llama", space: space, modules: modules)
    }

    func logits(_ model: LanguageModel) throws -> [[Float]] {
        let tokens = [72, 101, 108, 108, 111, 32, 119, 111]
        let session = try model.makeSession(contextLength: 32, pool: ThreadPool(threadCount: 2))
        var rows: [[Float]] = []
        // A batch (prompt path), then single tokens (decode path).
        try session.evaluate(Array(tokens.prefix(5))) { _, l in rows.append(Array(l)) }
        for t in tokens.dropFirst(5) { rows.append(Array(try session.evaluate([t]))) }
        return rows
    }

    func maxDifference(_ x: [[Float]], _ y: [[Float]]) -> Float {
        zip(x, y).map { a, b in zip(a, b).map { abs($0 - $1) }.max() ?? 0 }.max() ?? 0
    }

    /// A model whose weights are `merge(name, values)` of the base's.
    func mergedModel(_ base: SyntheticModel, _ merge: @escaping (String, [Float]) -> [Float]) throws -> LanguageModel {
        var merged = base
        for (name, _, _) in Self.projections(base) { merged.transform[name] = { merge(name, $0) } }
        let path = try merged.write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try LanguageModel(path: path)
    }

    func baseModel() throws -> (SyntheticModel, LanguageModel) {
        var base = SyntheticModel()
        base.tiedOutput = false
        var copy = base
        let path = try copy.write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        return (base, try LanguageModel(path: path))
    }

    func testPlainLoRAOnEveryProjectionMatchesMergedWeights() throws {
        let (spec, model) = try baseModel()
        let plain = try logits(model)
        let adapter = Self.adapter(for: spec, rank: 3, seed: 11)
        try model.attachLoRA(adapter, scale: 1.5)
        let merged = try mergedModel(spec) { name, w in
            let m = adapter.modules[name]!
            return zip(w, m.delta()).map { $0 + 1.5 * $1 }
        }
        let expected = try logits(merged), actual = try logits(model)
        XCTAssertLessThan(maxDifference(expected, actual), 1e-4)
        XCTAssertGreaterThan(maxDifference(plain, actual), 1e-2, "the adapter should move the logits")
        XCTAssertEqual(model.loraAdapters.count, 1)
        XCTAssertEqual(model.loraAdapters[0].tensorNames.count, Self.projections(spec).count)

        // Detaching gives the base model back, bit for bit.
        try model.detachLoRA(id: model.loraAdapters[0].id)
        XCTAssertEqual(try logits(model), plain)
        XCTAssertTrue(model.loraAdapters.isEmpty)
    }

    /// Two adapters at once, each with its own scale, add up: `W + 1·s₁B₁A₁ + 0.5·s₂B₂A₂`.
    func testTwoAdaptersWithScalesAddUp() throws {
        let (spec, model) = try baseModel()
        let first = Self.adapter(for: spec, rank: 2, seed: 21)
        let second = Self.adapter(for: spec, rank: 4, seed: 31, only: ["blk.0.attn_k.weight", "blk.1.ffn_up.weight", "output.weight"])
        let id1 = try model.attachLoRA(first), id2 = try model.attachLoRA(second, scale: 0.5)
        XCTAssertNotEqual(id1, id2)
        let merged = try mergedModel(spec) { name, w in
            var out = zip(w, first.modules[name]!.delta()).map { $0 + $1 }
            if let m = second.modules[name] { out = zip(out, m.delta()).map { $0 + 0.5 * $1 } }
            return out
        }
        XCTAssertLessThan(maxDifference(try logits(merged), try logits(model)), 1e-4)
        // Detaching the first leaves exactly the second.
        try model.detachLoRA(id: id1)
        let onlySecond = try mergedModel(spec) { name, w in
            second.modules[name].map { m in zip(w, m.delta()).map { $0 + 0.5 * $1 } } ?? w
        }
        XCTAssertLessThan(maxDifference(try logits(onlySecond), try logits(model)), 1e-4)
    }

    /// DoRA (PEFT `DoraLinearLayer`): the merged weight is `g ⊙ (W + s·B·A)` per output row,
    /// `g = m / ‖W + s·B·A‖` (the synthetic model has no biases).
    func testDoRAMatchesMergedWeights() throws {
        let (spec, model) = try baseModel()
        let adapter = Self.adapter(for: spec, rank: 2, seed: 41, dora: true)
        try model.attachLoRA(adapter)
        let merged = try mergedModel(spec) { name, w in
            let m = adapter.modules[name]!, columns = m.inputs
            var out = zip(w, m.delta()).map { $0 + $1 }
            for o in 0..<m.outputs {
                let row = out[o * columns..<(o + 1) * columns]
                let norm = Float(row.map { Double($0) * Double($0) }.reduce(0, +).squareRoot())
                for i in 0..<columns { out[o * columns + i] *= m.magnitude![o] / norm }
            }
            return out
        }
        XCTAssertLessThan(maxDifference(try logits(merged), try logits(model)), 1e-4)
    }

    /// A Hugging Face (PEFT) adapter on a GGUF llama: its Q/K B rows (and DoRA magnitudes)
    /// are permuted as llama.cpp's converter permutes the base's Q/K rows.
    func testHuggingFaceOrderAdapterIsPermutedForGGUFLlama() throws {
        let (spec, model) = try baseModel()
        let names: Set<String> = ["blk.0.attn_q.weight", "blk.1.attn_k.weight", "blk.0.attn_v.weight"]
        let adapter = Self.adapter(for: spec, rank: 2, seed: 51, space: .huggingFace, only: names)
        try model.attachLoRA(adapter)
        let merged = try mergedModel(spec) { name, w in
            guard let m = adapter.modules[name] else { return w }
            var delta = m.delta()
            if name.contains("attn_q") { delta = HFTensorNaming.permuteForGGUF(delta, rows: m.outputs, heads: spec.heads) }
            if name.contains("attn_k") { delta = HFTensorNaming.permuteForGGUF(delta, rows: m.outputs, heads: spec.kvHeads) }
            return zip(w, delta).map { $0 + $1 }
        }
        XCTAssertLessThan(maxDifference(try logits(merged), try logits(model)), 1e-4)
    }

    func testAdaptersThatDoNotFitAreNamedErrors() throws {
        let (spec, model) = try baseModel()
        var wrongShape = Self.adapter(for: spec, rank: 2, seed: 61, only: ["blk.0.attn_q.weight"])
        wrongShape.modules["blk.0.attn_q.weight"] = Self.randomModule(rows: 16, columns: 32, rank: 2, seed: 1)
        XCTAssertThrowsError(try model.attachLoRA(wrongShape)) {
            XCTAssertTrue("\($0)".contains("blk.0.attn_q.weight") && "\($0)".contains("[32, 16]") && "\($0)".contains("[32, 32]"), "\($0)")
        }
        var wrongLayer = Self.adapter(for: spec, rank: 2, seed: 62, only: ["blk.0.attn_q.weight"])
        wrongLayer.modules["blk.7.attn_q.weight"] = wrongLayer.modules.removeValue(forKey: "blk.0.attn_q.weight")
        XCTAssertThrowsError(try model.attachLoRA(wrongLayer)) { XCTAssertTrue("\($0)".contains("the model has 2 layers"), "\($0)") }
        var unknown = wrongLayer
        unknown.modules = ["blk.0.attn_qkv.weight": Self.randomModule(rows: 64, columns: 32, rank: 2, seed: 2)]
        XCTAssertThrowsError(try model.attachLoRA(unknown)) { XCTAssertTrue("\($0)".contains("no such projection"), "\($0)") }
        let otherArch = LoRAAdapter(path: "x.gguf", architecture: "qwen2", space: .gguf, modules: [:])
        XCTAssertThrowsError(try model.attachLoRA(otherArch)) { XCTAssertTrue("\($0)".contains("'qwen2'"), "\($0)") }
        XCTAssertThrowsError(try model.attachLoRA(Self.adapter(for: spec, rank: 1, seed: 3), scale: .nan))
        XCTAssertTrue(model.loraAdapters.isEmpty, "a failed attach attaches nothing")
        XCTAssertThrowsError(try model.detachLoRA(id: 5))
    }

    /// Rows of one batch with different adapters (punica / S-LoRA style): three slots — adapter
    /// 1 at 1.0, adapter 2 at 0.5, neither — decoded together, each exactly as a model with only
    /// that adapter attached; DoRA included. The prompt (several tokens per slot) and decode
    /// steps (one per slot) both go through the per-row scales, and so does the LM head.
    func testRowsOfOneBatchUseTheirOwnAdapters() throws {
        let (spec, model) = try baseModel()
        let first = Self.adapter(for: spec, rank: 2, seed: 71)
        let second = Self.adapter(for: spec, rank: 3, seed: 81, dora: true)
        let id1 = try model.attachLoRA(first, scale: 0.25), id2 = try model.attachLoRA(second, scale: 2)
        let batch = try MultiSequenceBatch(model: model, slots: 3, capacity: 32, pool: ThreadPool(threadCount: 2))
        try batch.setAdapterScales([id1: 1, id2: 0], slot: 0)
        try batch.setAdapterScales([id1: 0, id2: 0.5], slot: 1)
        try batch.setAdapterScales([id1: 0, id2: 0], slot: 2)
        XCTAssertThrowsError(try batch.setAdapterScales([9: 1], slot: 0)) { XCTAssertTrue("\($0)".contains("no adapter with id 9"), "\($0)") }
        XCTAssertThrowsError(try batch.setAdapterScales([id1: 1], slot: 3))

        // References: one model per configuration.
        func reference(_ attach: (LanguageModel) throws -> Void) throws -> [[Float]] {
            var copy = spec
            let path = try copy.write()
            defer { try? FileManager.default.removeItem(atPath: path) }
            let m = try LanguageModel(path: path)
            try attach(m)
            return try logits(m)
        }
        let expected = [
            try reference { try $0.attachLoRA(first, scale: 1) },
            try reference { try $0.attachLoRA(second, scale: 0.5) },
            try reference { _ in },
        ]
        let tokens = [72, 101, 108, 108, 111, 32, 119, 111]
        var actual: [[[Float]]] = [[], [], []]
        try batch.evaluate((0..<3).map { SequenceSegment(slot: $0, start: 0, tokens: Array(tokens.prefix(5)), allLogits: true) }) { s, _, l in
            actual[s].append(Array(l))
        }
        for (i, t) in tokens.dropFirst(5).enumerated() {
            try batch.evaluate((0..<3).map { SequenceSegment(slot: $0, start: 5 + i, tokens: [t]) }) { s, _, l in actual[s].append(Array(l)) }
        }
        for slot in 0..<3 {
            XCTAssertLessThan(maxDifference(expected[slot], actual[slot]), 1e-4, "slot \(slot)")
        }
        XCTAssertGreaterThan(maxDifference(expected[0], expected[2]), 1e-2)
        XCTAssertGreaterThan(maxDifference(expected[1], expected[2]), 1e-2)

        // The attachment's own scale can change between passes (POST /lora-adapters).
        try model.setLoRAScale(id: id1, scale: 1)
        try model.setLoRAScale(id: id2, scale: 0)
        XCTAssertLessThan(maxDifference(try logits(model), expected[0]), 1e-4)
        XCTAssertThrowsError(try model.setLoRAScale(id: 42, scale: 1))
    }
}
