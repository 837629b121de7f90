import XCTest
@testable import LoomKernels

/// RowKernels against gguf-py: dequantised rows bit for bit, dot products within rounding.
final class RowKernelsFixtureTests: XCTestCase {
    func loadRows() throws -> [DecodedRow] {
        try (QuantFixture.load().rows + TernaryFixture.load().rows).map(DecodedRow.init)
    }

    func testFixtureCoversEveryType() throws {
        let covered = Set(try loadRows().map(\.type))
        // I8 holds integers (Loom's packed ternary codes), which gguf-py does not dequantise;
        // its float view is a plain cast, checked against ReferenceKernels.
        XCTAssertEqual(covered, Set(GGMLType.allCases.filter { !$0.holdsIntegers }), "every GGMLType needs a gguf-py fixture row")
    }

    func testDequantizeMatchesGGUFPy() throws {
        for row in try loadRows() {
            var out = [Float](repeating: .nan, count: row.count)
            row.bytes.withUnsafeBytes { src in
                out.withUnsafeMutableBufferPointer { dst in
                    RowKernels.dequantize(row.type, src.baseAddress!, into: dst.baseAddress!, count: row.count)
                }
            }
            // Exact: the kernels use the same float operations as gguf-py (no FMA), and
            // fp16 -> f32 is exact, so there is no rounding difference to allow for.
            assertBitwiseEqual(out, row.dequant, row.name)
        }
    }

    func testDotMatchesGGUFPy() throws {
        for row in try loadRows() {
            let got = row.bytes.withUnsafeBytes { src in
                row.x.withUnsafeBufferPointer { x in
                    RowKernels.dot(row.type, src.baseAddress!, x.baseAddress!, count: row.count)
                }
            }
            let magnitude = referenceDot(row.dequant, row.x).magnitude
            assertDot(got, (row.dot, magnitude), row.name)
        }
    }

    /// Rows inside a GGUF file start at arbitrary byte offsets relative to SIMD alignment;
    /// the kernels must give identical results from every offset.
    func testUnalignedRowsGiveTheSameResults() throws {
        for row in try loadRows() {
            for shift in [1, 3] {
                let padded = [UInt8](repeating: 0xA5, count: shift) + row.bytes
                var out = [Float](repeating: .nan, count: row.count)
                let dot = padded.withUnsafeBytes { src -> Float in
                    out.withUnsafeMutableBufferPointer { dst in
                        RowKernels.dequantize(row.type, src.baseAddress! + shift, into: dst.baseAddress!, count: row.count)
                    }
                    return row.x.withUnsafeBufferPointer { RowKernels.dot(row.type, src.baseAddress! + shift, $0.baseAddress!, count: row.count) }
                }
                assertBitwiseEqual(out, row.dequant, "\(row.name) at byte offset \(shift)")
                assertDot(dot, (row.dot, referenceDot(row.dequant, row.x).magnitude), "\(row.name) at byte offset \(shift)")
            }
        }
    }

    /// The naive reference in this target agrees with gguf-py too, so the random-row tests
    /// that compare against it rest on an independently checked base.
    func testNaiveReferenceMatchesGGUFPy() throws {
        for row in try loadRows() {
            assertBitwiseEqual(ReferenceKernels.dequantize(row.type, row.bytes, count: row.count), row.dequant, "reference \(row.name)")
        }
    }
}
