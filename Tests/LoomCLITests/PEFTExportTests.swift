import Foundation
import XCTest
import LoomFormats
import LoomKernels
import LoomModels

/// The adapter `loom finetune` writes loads in PEFT itself (scripts/gen_peft_export_fixtures.py:
/// the script ran this command, loaded its adapters strictly in PEFT, which recorded its logits,
/// and recorded each tensor's name, shape and sums; only `adapter_config.json` is committed under
/// LoomTrainingTests' `Fixtures/peft_export/`, no weights):
/// - today's binary, run with the script's flags, writes the same adapter: the same config and
///   tensor names and shapes, per-tensor sums equal within what a per-value tolerance of
///   1e-5 + 1e-4 |value| (float rounding across hosts) allows;
/// - Loom's logits with that fresh adapter equal PEFT's (with the script's) within 1e-4, so
///   both read the file the same way (names, row order, scaling, rsLoRA, selected layers,
///   trained norms saved as `modules_to_save`).
final class PEFTExportTests: XCTestCase {
    struct Reference: Decodable {
        struct Case: Decodable {
            let flags: [String]
            let lora_tensors: Int
            let logits: [[Double]]
            let max_vs_base: Double
            let tensors: [Tensor]
        }
        /// One tensor of the adapter the script's run wrote.
        struct Tensor: Decodable {
            let name: String
            let dtype: String
            let shape: [Int]
            let sum: Double
            let sum_abs: Double
        }
        struct Example: Codable {
            let instruction: String
            let input: String
            let output: String
        }
        let ids: [Int]
        let data: [Example]
        let common: [String]
        let cases: [String: Case]
    }

    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("LoomTrainingTests/Fixtures/peft_export").path

    func testLoomTrainedAdapterMatchesPEFT() throws {
        let reference = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: URL(fileURLWithPath: Self.fixtures + "/reference.json")))
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("loom-peft-export-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let lines = try reference.data.map { String(decoding: try encoder.encode($0), as: UTF8.self) }
        try (lines.joined(separator: "\n") + "\n").write(toFile: work + "/train.jsonl", atomically: true, encoding: .utf8)
        XCTAssertEqual(reference.cases.count, 3)

        for (name, c) in reference.cases.sorted(by: { $0.key < $1.key }) {
            let committed = Self.fixtures + "/" + name
            XCTAssertFalse(FileManager.default.fileExists(atPath: committed + "/adapter_model.safetensors"), "\(name): weights are not committed")
            // 1. Today's binary writes that adapter.
            let out = work + "/" + name
            let r = try LoomProcess.run(["finetune", "-m", FinetuneCLITests.base, "--data", work + "/train.jsonl", "-o", out] + reference.common + c.flags)
            XCTAssertEqual(r.status, 0, "\(name): \(r.stderr)")
            let configNow = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/adapter_config.json"))) as? NSDictionary
            let configThen = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: committed + "/adapter_config.json"))) as? NSDictionary
            XCTAssertEqual(configNow, configThen, name)
            let now = try SafetensorsFile(path: out + "/adapter_model.safetensors")
            XCTAssertEqual(c.tensors.count, c.lora_tensors, name)
            XCTAssertEqual(now.tensors.map(\.name).sorted(), c.tensors.map(\.name), name)
            for expected in c.tensors {
                let fresh = try XCTUnwrap(now.tensor(named: expected.name), "\(name): \(expected.name)")
                XCTAssertEqual(fresh.shape, expected.shape, expected.name)
                XCTAssertEqual(expected.dtype, "float32", expected.name)
                XCTAssertEqual(fresh.dtype, .f32, expected.name)
                let values = try now.floats(fresh)
                let sum = values.reduce(0.0) { $0 + Double($1) }
                // |Σa - Σb| ≤ Σ(1e-5 + 1e-4 |b|) when every value is within 1e-5 + 1e-4 |b|.
                XCTAssertEqual(sum, expected.sum, accuracy: 1e-5 * Double(values.count) + 1e-4 * expected.sum_abs, "\(name): \(expected.name) sum")
                XCTAssertEqual(values.reduce(0.0) { $0 + abs(Double($1)) }, expected.sum_abs,
                               accuracy: 1e-5 * Double(values.count) + 1e-4 * expected.sum_abs, "\(name): \(expected.name) sum of |values|")
            }
            // 2. Loom reads that adapter as PEFT read the script's.
            let model = try LanguageModel(path: FinetuneCLITests.base)
            try model.loadLoRA(path: out)
            let session = try model.makeSession(contextLength: 32, pool: ThreadPool(threadCount: 1), cacheTypes: .f32)
            var rows: [[Float]] = []
            try session.evaluate(reference.ids) { _, logits in rows.append(Array(logits)) }
            XCTAssertEqual(rows.count, c.logits.count, name)
            var worst = 0.0
            for (row, expected) in zip(rows, c.logits) {
                for (a, b) in zip(row, expected) { worst = max(worst, abs(Double(a) - b)) }
            }
            XCTAssertLessThan(worst, 1e-4, "\(name): Loom vs PEFT logits")
            XCTAssertGreaterThan(c.max_vs_base, 100 * 1e-4, "\(name): the adapter must move the logits for the test to mean anything")
        }
    }
}
