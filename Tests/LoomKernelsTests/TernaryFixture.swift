import Foundation
@testable import LoomKernels

/// `Fixtures/ternary_fixtures.json`, made by `scripts/gen_ternary_fixtures.py`: TQ1_0/TQ2_0
/// blocks quantised by gguf-py and llama.cpp's `quantize_row_tq*_ref` (which agree), and
/// rows dequantised by gguf-py in the format of `quant_fixtures.json`.
struct TernaryFixture: Decodable {
    let reference: String
    /// Same fields as the quantiser fixture's cases.
    let quantize: [QuantizeFixture.Case]
    let rows: [QuantFixture.Row]

    static func load() throws -> TernaryFixture {
        guard let url = Bundle.module.url(forResource: "ternary_fixtures", withExtension: "json", subdirectory: "Fixtures") else {
            throw FixtureError("Fixtures/ternary_fixtures.json is missing from the test bundle")
        }
        return try JSONDecoder().decode(TernaryFixture.self, from: Data(contentsOf: url))
    }

    /// The quantise cases decoded: type, input floats, expected blocks.
    func quantizeCases() throws -> [(name: String, type: GGMLType, x: [Float], blocks: [UInt8])] {
        try quantize.map { c in
            let d = try c.decoded()
            return (c.name, d.type, d.x, d.blocks)
        }
    }
}
