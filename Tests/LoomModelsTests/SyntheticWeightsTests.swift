import Foundation
import LoomFormats
import LoomTestSupport
import XCTest

/// The Swift generator against values printed by its twin, `python3 scripts/synthetic_weights.py`
/// (a drift on either side would change every materialised fixture), and the manifest check.
final class SyntheticWeightsTests: XCTestCase {
    let tensorName = "model.layers.0.self_attn.q_proj.weight"

    func testHashAndSeedMatchTheScript() {
        XCTAssertEqual(SyntheticWeights.fnv1a64(""), 14_695_981_039_346_656_037)
        XCTAssertEqual(SyntheticWeights.fnv1a64(tensorName), 4_190_993_326_936_293_051)
        XCTAssertEqual(SyntheticWeights.tensorSeed(name: tensorName, baseSeed: 7), 4_190_993_326_936_293_058)
        var rng = SyntheticWeights.SplitMix64(seed: 0)
        // 0xE220A8397B1DCDAF is the first output of Vigna's splitmix64.c from state 0.
        XCTAssertEqual([rng.next(), rng.next(), rng.next()], [0xE220_A839_7B1D_CDAF, 7_960_286_522_194_355_700, 487_617_019_471_545_679])
    }

    func testValuesMatchTheScript() {
        let seed = SyntheticWeights.tensorSeed(name: tensorName, baseSeed: 7)
        XCTAssertEqual(SyntheticWeights.uniform(seed: seed, count: 4, amplitude: 0.125),
                       [0.07645976543426514, -0.04695643484592438, -0.025507017970085144, 0.0020494312047958374])
        XCTAssertEqual(SyntheticWeights.uniform(seed: seed, count: 4, amplitude: 0.25, offset: 1),
                       [1.1529195308685303, 0.9060871601104736, 0.9489859342575073, 1.004098892211914])
        XCTAssertEqual(SyntheticWeights.ternary(seed: seed, count: 8), [1, -1, 0, 0, 1, 1, 1, 0])
        XCTAssertEqual(SyntheticWeights.packTernary(SyntheticWeights.ternary(seed: seed, count: 16), rows: 8, cols: 2), [154, 72, 137, 101])
        let wide = SyntheticWeights.uniform(seed: seed, count: 4, amplitude: 2)
        func halves(_ bytes: [UInt8]?) -> [UInt16] {
            let b = bytes ?? []
            return stride(from: 0, to: b.count, by: 2).map { UInt16(b[$0]) | UInt16(b[$0 + 1]) << 8 }
        }
        XCTAssertEqual(halves(SyntheticWeights.stored(wide, dtype: "BF16")), [16285, 48960, 48849, 15622])
        XCTAssertEqual(halves(SyntheticWeights.stored(wide, dtype: "F16")), [15589, 47619, 46728, 10290])
    }

    /// A manifest whose digest does not match fails naming the tensor; a matching one writes a
    /// readable checkpoint with the generated values.
    func testManifestIsVerified() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("loom-synthetic-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let seed = SyntheticWeights.tensorSeed(name: "w", baseSeed: 3)
        let bytes = try XCTUnwrap(SyntheticWeights.stored(SyntheticWeights.uniform(seed: seed, count: 6, amplitude: 0.5), dtype: "F32"))
        func manifest(_ sha: String) -> String {
            """
            {"generator": "test", "base_seed": 3, "files": [{"name": "model.safetensors", "metadata": {"format": "pt"},
             "tensors": [{"name": "w", "dtype": "F32", "shape": [2, 3], "kind": "uniform", "seed": "\(seed)",
                          "amplitude": 0.5, "offset": 0.0, "sha256": "\(sha)"}]}]}
            """
        }
        let url = dir.appendingPathComponent("weights.json")
        try manifest(String(repeating: "0", count: 64)).write(to: url, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try SyntheticFixture.write(manifest: url)) { error in
            XCTAssertTrue("\(error)".contains("tensor w generates sha256"), "\(error)")
        }
        // sha256 of these F32 bytes as `scripts/synthetic_weights.py` computes it.
        let actual = "96cd2e617948e76c9d33e6e7916ff96c301b102bc5b778c6df4f29fe5fec587c"
        try manifest(actual).write(to: url, atomically: true, encoding: .utf8)
        try SyntheticFixture.write(manifest: url)
        let file = try SafetensorsFile(path: dir.appendingPathComponent("model.safetensors").path)
        XCTAssertEqual(file.metadata["format"], "pt")
        let info = try XCTUnwrap(file.tensor(named: "w"))
        XCTAssertEqual(info.shape, [2, 3])
        XCTAssertEqual(Array(file.data(info)), bytes)
    }
}
