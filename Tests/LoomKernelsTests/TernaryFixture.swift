import Foundation
@testable import LoomKernels

/// `Fixtures/ternary_fixtures.json`, made by `scripts/gen_ternary_fixtures.py`: TQ1_0/TQ2_0
/// blocks quantised by gguf-py and llama.cpp's `quantize_row_tq*_ref` (which agree), and
/// rows dequantised by gguf-py in the format of `quant_fixtures.json`.
struct TernaryFixture: Decodable {
    struct Case: Decodable {
        let name: String
        let type: String
        let typeId: UInt32
        let source: String
        let x: String
        let blocks: String
    }
    let reference: String
    let quantize: [Case]
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
            guard let type = GGMLType(rawValue: c.typeId), type.description == c.type else {
                throw FixtureError("\(c.name): unknown type \(c.type) (\(c.typeId))")
            }
            guard let x = [UInt8](hex: c.x), let blocks = [UInt8](hex: c.blocks) else { throw FixtureError("\(c.name): bad hex") }
            return (c.name, type, x.asFloats, blocks)
        }
    }
}
