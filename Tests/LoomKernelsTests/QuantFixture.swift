import Foundation
import XCTest
@testable import LoomKernels

/// `Fixtures/quant_fixtures.json`, made by `scripts/gen_quant_fixtures.py` from gguf-py and numpy.
struct QuantFixture: Decodable {
    struct Row: Decodable {
        let name: String
        let type: String
        let typeId: UInt32
        let source: String
        let count: Int
        let blocks: String
        let dequant: String
        let x: String
        let dot: Double
    }

    let gguf: String
    let rows: [Row]
    /// [input bits, output bits] pairs.
    let halfToFloat: [[UInt32]]
    let floatToHalf: [[UInt32]]
    let bf16ToFloat: [[UInt32]]
    let floatToBF16: [[UInt32]]

    static func load() throws -> QuantFixture {
        guard let url = Bundle.module.url(forResource: "quant_fixtures", withExtension: "json", subdirectory: "Fixtures") else {
            throw FixtureError("Fixtures/quant_fixtures.json is missing from the test bundle")
        }
        return try JSONDecoder().decode(QuantFixture.self, from: Data(contentsOf: url))
    }
}

struct FixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A fixture row decoded into typed arrays.
struct DecodedRow {
    let name: String
    let type: GGMLType
    let count: Int
    let bytes: [UInt8]
    let dequant: [Float]
    let x: [Float]
    let dot: Double

    init(_ row: QuantFixture.Row) throws {
        guard let type = GGMLType(rawValue: row.typeId), type.description == row.type else {
            throw FixtureError("\(row.name): unknown type \(row.type) (\(row.typeId))")
        }
        guard let bytes = [UInt8](hex: row.blocks), let deq = [UInt8](hex: row.dequant), let x = [UInt8](hex: row.x) else {
            throw FixtureError("\(row.name): malformed hex")
        }
        guard row.count % type.blockSize == 0, bytes.count == type.byteCount(elements: row.count),
              deq.count == 4 * row.count, x.count == 4 * row.count else {
            throw FixtureError("\(row.name): sizes do not match count \(row.count)")
        }
        name = row.name
        self.type = type
        count = row.count
        self.bytes = bytes
        dequant = deq.asFloats
        self.x = x.asFloats
        dot = row.dot
    }
}
