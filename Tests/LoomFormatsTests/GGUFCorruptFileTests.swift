import Foundation
import XCTest
import LoomKernels
@testable import LoomFormats

/// Corrupt and hostile GGUF files: each must be rejected with a `GGUFError` naming the
/// field at fault — never a crash, a hang or a huge allocation. Files are made by writing a
/// valid one with GGUFWriter and mutating bytes located by the (unique) names preceding them.
final class GGUFCorruptFileTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("loom-gguf-corrupt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        directory = url.path
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    // MARK: - Fixture file and helpers

    /// A valid file: 4 keys (string, u32, bool, string array), an F32 [4, 2] and a Q8_0 [32]
    /// tensor; with `alignment` other than 32, `general.alignment` is the last key.
    private func validFile(alignment: Int = 32) throws -> [UInt8] {
        var writer = GGUFWriter(alignment: alignment)
        writer.setMetadata("general.architecture", .string("llama"))
        writer.setMetadata("key.one", .uint32(7))
        writer.setMetadata("key.two", .bool(true))
        writer.setMetadata("key.arr", .array([.string("ab"), .string("cd")]))
        try writer.addTensor(name: "tensor.one", type: .f32, dimensions: [4, 2],
                             data: GGUFWriterTests.bytes(32, seed: 1))
        try writer.addTensor(name: "tensor.two", type: .q8_0, dimensions: [32],
                             data: GGUFWriterTests.bytes(34, seed: 2))
        let path = directory + "/valid-\(alignment).gguf"
        try writer.write(to: path)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        XCTAssertNoThrow(try GGUFFile(path: path), "the unmodified file must be valid")
        return bytes
    }

    /// Index just past the only occurrence of `name`'s UTF-8 bytes.
    private func after(_ name: String, in bytes: [UInt8]) -> Int {
        let needle = Array(name.utf8)
        for start in 0...(bytes.count - needle.count) where Array(bytes[start..<start + needle.count]) == needle {
            return start + needle.count
        }
        XCTFail("\(name) not found")
        return 0
    }

    private func put<T: FixedWidthInteger>(_ value: T, at offset: Int, in bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { raw in
            for (i, byte) in raw.enumerated() { bytes[offset + i] = byte }
        }
    }

    /// Writes `bytes` as `corrupt.gguf`, opens it and checks the thrown error.
    private func expectError(_ bytes: [UInt8], field: String, reason: String, offset: Int?? = nil,
                             file: StaticString = #filePath, line: UInt = #line) {
        let path = directory + "/corrupt.gguf"
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
        XCTAssertThrowsError(try GGUFFile(path: path), file: file, line: line) { error in
            guard let error = error as? GGUFError else {
                return XCTFail("not a GGUFError: \(error)", file: file, line: line)
            }
            XCTAssertEqual(error.path, path, file: file, line: line)
            XCTAssertEqual(error.field, field, "\(error)", file: file, line: line)
            XCTAssertTrue(error.reason.contains(reason), "'\(error.reason)' lacks '\(reason)'", file: file, line: line)
            if let offset {
                XCTAssertEqual(error.offset, offset, "\(error)", file: file, line: line)
            }
            XCTAssertTrue(error.description.hasPrefix("\(path): \(field)"), error.description, file: file, line: line)
        }
    }

    // MARK: - Preamble

    func testEmptyFile() {
        expectError([], field: "magic", reason: "file is empty", offset: 0)
    }

    func testBadMagic() throws {
        var bytes = try validFile()
        bytes[0] = UInt8(ascii: "X")
        expectError(bytes, field: "magic", reason: "not a GGUF file (expected bytes 47 47 55 46 \"GGUF\", found 58 47 55 46)")
        expectError(Array("GG".utf8), field: "magic", reason: "truncated")
    }

    func testUnsupportedVersions() throws {
        var bytes = try validFile()
        put(UInt32(1), at: 4, in: &bytes)
        expectError(bytes, field: "version", reason: "unsupported version 1", offset: 4)
        put(UInt32(4), at: 4, in: &bytes)
        expectError(bytes, field: "version", reason: "unsupported version 4; Loom reads versions 2 and 3")
        put(UInt32(3).byteSwapped, at: 4, in: &bytes)
        expectError(bytes, field: "version", reason: "big-endian GGUF files are not supported")
        // Version 2 has the same layout and is accepted, as gguf-py does.
        put(UInt32(2), at: 4, in: &bytes)
        let path = directory + "/v2.gguf"
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
        XCTAssertEqual(try GGUFFile(path: path).version, 2)
    }

    func testTruncatedHeader() throws {
        let bytes = try validFile()
        expectError(Array(bytes[..<6]), field: "version", reason: "file is truncated (needs 4 bytes, only 2 left)")
        expectError(Array(bytes[..<12]), field: "n_tensors", reason: "truncated", offset: 8)
        expectError(Array(bytes[..<20]), field: "n_kv", reason: "truncated", offset: 16)
    }

    func testAbsurdCounts() throws {
        var bytes = try validFile()
        put(Int64(1) << 40, at: 16, in: &bytes)
        expectError(bytes, field: "n_kv", reason: "count 1099511627776 cannot fit in the", offset: 16)
        put(Int64(4), at: 16, in: &bytes)
        put(Int64.max, at: 8, in: &bytes)
        expectError(bytes, field: "n_tensors", reason: "cannot fit", offset: 8)
        put(Int64(-1), at: 8, in: &bytes)
        expectError(bytes, field: "n_tensors", reason: "negative count -1")
        // One key more than the file holds: the first tensor info is read as a UINT16 key
        // ("tensor.one", n_dims 2 = UINT16), which leaves the parser 2 bytes into ne[0], so the
        // next name length is the bytes 00 00 00 00 00 00 02 00 — far beyond the file.
        put(Int64(2), at: 8, in: &bytes)
        put(Int64(5), at: 16, in: &bytes)
        expectError(bytes, field: "tensor #0 name", reason: "string length 562949953421312 exceeds")
    }

    // MARK: - Metadata

    func testTruncatedInsideKeyString() throws {
        let bytes = try validFile()
        let keyStart = after("key.one", in: bytes) - 7
        expectError(Array(bytes[..<(keyStart + 3)]), field: "key #1",
                    reason: "string length 7 exceeds the 3 bytes left in the file", offset: keyStart - 8)
    }

    func testAbsurdStringLengths() throws {
        var bytes = try validFile()
        let lengthOffset = after("key.one", in: bytes) - 7 - 8
        put(UInt64.max - 7, at: lengthOffset, in: &bytes)
        expectError(bytes, field: "key #1", reason: "string length 18446744073709551608 exceeds", offset: lengthOffset)

        var element = try validFile()
        put(UInt64(1) << 62, at: after("key.arr", in: element) + 16, in: &element)
        expectError(element, field: "key 'key.arr' [0]", reason: "string length 4611686018427387904 exceeds")
    }

    func testAbsurdArrayCount() throws {
        var bytes = try validFile()
        let countOffset = after("key.arr", in: bytes) + 8
        put(UInt64(1) << 62, at: countOffset, in: &bytes)
        expectError(bytes, field: "key 'key.arr' array count",
                    reason: "count 4611686018427387904 of STRING cannot fit", offset: countOffset)
        put(UInt64.max, at: countOffset, in: &bytes)
        expectError(bytes, field: "key 'key.arr' array count", reason: "cannot fit")
    }

    func testNestedArrayRejected() throws {
        var bytes = try validFile()
        put(UInt32(9), at: after("key.arr", in: bytes) + 4, in: &bytes)
        expectError(bytes, field: "key 'key.arr' array element type", reason: "nested arrays are not supported")
    }

    func testUnknownValueTypes() throws {
        var bytes = try validFile()
        put(UInt32(13), at: after("key.one", in: bytes), in: &bytes)
        expectError(bytes, field: "key 'key.one' type", reason: "unknown value type 13")
        var element = try validFile()
        put(UInt32(0xFFFF_FFFF), at: after("key.arr", in: element) + 4, in: &element)
        expectError(element, field: "key 'key.arr' array element type", reason: "unknown value type -1")
    }

    func testDuplicateKey() throws {
        var bytes = try validFile()
        let end = after("key.two", in: bytes)
        bytes.replaceSubrange((end - 3)..<end, with: Array("one".utf8))  // "key.two" -> "key.one"
        expectError(bytes, field: "key 'key.one'", reason: "duplicate metadata key")
    }

    func testInvalidUTF8() throws {
        var key = try validFile()
        key[after("key.one", in: key) - 1] = 0xFF
        expectError(key, field: "key #1", reason: "not valid UTF-8")
        var name = try validFile()
        name[after("tensor.two", in: name) - 2] = 0xC3  // lead byte followed by ASCII 'o'
        expectError(name, field: "tensor #1 name", reason: "string of 10 bytes is not valid UTF-8")
    }

    func testBoolOutOfRange() throws {
        var bytes = try validFile()
        bytes[after("key.two", in: bytes) + 4] = 2
        expectError(bytes, field: "key 'key.two'", reason: "bool byte is 2, expected 0 or 1")
    }

    func testBadAlignment() throws {
        var bytes = try validFile(alignment: 64)
        let value = after("general.alignment", in: bytes) + 4
        for bad: UInt32 in [0, 48, 1 << 31] {
            put(bad, at: value, in: &bytes)
            expectError(bytes, field: "general.alignment", reason: "alignment \(bad) is not a non-zero power of two")
        }
        put(UInt32(6), at: value - 4, in: &bytes)  // retag the value as FLOAT32
        expectError(bytes, field: "general.alignment", reason: "must be an unsigned integer (found FLOAT32")
    }

    // MARK: - Tensor infos

    func testTooManyDimensions() throws {
        var bytes = try validFile()
        let nDims = after("tensor.one", in: bytes)
        put(UInt32(5), at: nDims, in: &bytes)
        expectError(bytes, field: "tensor 'tensor.one' n_dims", reason: "n_dims is 5, at most 4", offset: nDims)
    }

    func testNonPositiveDimensions() throws {
        for bad: Int64 in [0, -3] {
            var bytes = try validFile()
            let ne1 = after("tensor.one", in: bytes) + 12
            put(bad, at: ne1, in: &bytes)
            expectError(bytes, field: "tensor 'tensor.one' ne[1]", reason: "dimension \(bad) is not positive", offset: ne1)
        }
    }

    func testElementCountOverflow() throws {
        var bytes = try validFile()
        let base = after("tensor.one", in: bytes)
        put(Int64(1) << 40, at: base + 4, in: &bytes)
        put(Int64(1) << 40, at: base + 12, in: &bytes)
        expectError(bytes, field: "tensor 'tensor.one' ne[1]", reason: "element count overflows 64 bits")
    }

    func testUnknownGGMLType() throws {
        for id: UInt32 in [4, 36, 0xFFFF_FFFF] {
            var bytes = try validFile()
            let typeOffset = after("tensor.one", in: bytes) + 20
            put(id, at: typeOffset, in: &bytes)
            expectError(bytes, field: "tensor 'tensor.one' type",
                        reason: "unknown or unsupported ggml type id \(Int32(bitPattern: id))", offset: typeOffset)
        }
    }

    func testRowLengthNotMultipleOfBlockSize() throws {
        var bytes = try validFile()
        put(Int64(16), at: after("tensor.two", in: bytes) + 4, in: &bytes)
        expectError(bytes, field: "tensor 'tensor.two' ne[0]",
                    reason: "row length 16 is not a multiple of the Q8_0 block size 32")
    }

    func testUnalignedTensorOffset() throws {
        var bytes = try validFile()
        let offsetField = after("tensor.two", in: bytes) + 16
        put(UInt64(33), at: offsetField, in: &bytes)
        expectError(bytes, field: "tensor 'tensor.two' offset",
                    reason: "offset 33 is not a multiple of the alignment 32", offset: offsetField)
        put(UInt64.max, at: offsetField, in: &bytes)
        expectError(bytes, field: "tensor 'tensor.two' offset", reason: "offset 18446744073709551615 is out of range")
    }

    func testTensorDataPastEndOfFile() throws {
        let valid = try validFile()
        let file = directory + "/corrupt.gguf"
        // The data section is 32 bytes of tensor.one, then tensor.two's 34 bytes padded to 64.
        // Cut into tensor.two's data.
        let truncated = Array(valid[..<(valid.count - 40)])
        let dataOffset = valid.count - 96
        expectError(truncated, field: "tensor 'tensor.two'",
                    reason: "data runs past end of file (needs 34 bytes at data offset 32, up to byte \(dataOffset + 66); file has \(truncated.count))",
                    offset: dataOffset + 32)
        var bytes = valid
        let offsetField = after("tensor.two", in: bytes) + 16
        put(UInt64(1) << 40, at: offsetField, in: &bytes)
        expectError(bytes, field: "tensor 'tensor.two'", reason: "data runs past end of file")
        put(UInt64(Int.max) & ~31, at: offsetField, in: &bytes)  // data offset + this overflows
        expectError(bytes, field: "tensor 'tensor.two'", reason: "up to byte beyond 2^63")
        XCTAssertTrue(FileManager.default.fileExists(atPath: file))
    }

    /// Tensors whose data share bytes (the same offset, or a partial overlap) would alias
    /// each other's weights: refused with both names and ranges.
    func testOverlappingTensorsAreRefused() throws {
        var bytes = try validFile()
        let offsetField = after("tensor.two", in: bytes) + 16
        put(UInt64(0), at: offsetField, in: &bytes)  // tensor.two on top of tensor.one
        expectError(bytes, field: "tensor 'tensor.two' offset",
                    reason: "data at [0, 34) overlaps tensor 'tensor.one' at [0, 32)")
        // tensor.one (32 bytes) moved to 32 and tensor.two (34 bytes) at 0: a two-byte overlap.
        var partial = try validFile()
        put(UInt64(32), at: after("tensor.one", in: partial) + 4 + 16 + 4, in: &partial)
        put(UInt64(0), at: after("tensor.two", in: partial) + 16, in: &partial)
        expectError(partial, field: "tensor 'tensor.one' offset",
                    reason: "data at [32, 64) overlaps tensor 'tensor.two' at [0, 34)")
    }

    func testDuplicateTensorName() throws {
        var bytes = try validFile()
        let end = after("tensor.two", in: bytes)
        bytes.replaceSubrange((end - 3)..<end, with: Array("one".utf8))
        expectError(bytes, field: "tensor 'tensor.one'", reason: "duplicate tensor name", offset: end - 10 - 8)
    }

    func testMissingFile() {
        XCTAssertThrowsError(try GGUFFile(path: directory + "/absent.gguf")) { error in
            XCTAssertEqual((error as? GGUFError)?.field, "file")
            XCTAssertTrue(String(describing: error).contains("No such file or directory"), "\(error)")
        }
        XCTAssertThrowsError(try GGUFFile(path: directory)) { error in
            XCTAssertTrue(String(describing: error).contains("not a regular file"), "\(error)")
        }
    }

    // MARK: - Exhaustive sweeps

    /// Every truncation of a valid file that cuts into the header or the tensor data throws.
    func testEveryTruncationThrows() throws {
        let bytes = try validFile()
        let path = directory + "/cut.gguf"
        let dataEnd = bytes.count - 30  // tensor.two's data ends 30 bytes before EOF
        for length in 0..<bytes.count {
            XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(bytes[..<length])))
            if length < dataEnd {
                XCTAssertThrowsError(try GGUFFile(path: path), "length \(length)") {
                    XCTAssertTrue($0 is GGUFError, "length \(length): \($0)")
                }
            } else {
                XCTAssertNoThrow(try GGUFFile(path: path), "length \(length)")
            }
        }
    }

    /// Random byte corruption: each attempt parses or throws a GGUFError, and whatever parses
    /// only describes tensors inside the file.
    func testRandomCorruptionNeverCrashes() throws {
        let valid = try validFile(alignment: 64)
        let path = directory + "/fuzz.gguf"
        var state: UInt64 = 0x1234_5678_9ABC_DEF1
        func next() -> Int {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return Int(truncatingIfNeeded: state >> 1)
        }
        let headerEnd = after("tensor.two", in: valid) + 24
        for _ in 0..<3000 {
            var bytes = valid
            for _ in 0..<(1 + next() % 3) {
                bytes[next() % headerEnd] = next() % 4 == 0 ? 0xFF : UInt8(truncatingIfNeeded: next())
            }
            XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
            do {
                let file = try GGUFFile(path: path)
                for tensor in file.tensors {
                    XCTAssertLessThanOrEqual(file.dataOffset + tensor.offset + tensor.byteCount, file.fileSize)
                }
            } catch {
                XCTAssertTrue(error is GGUFError, "\(error)")
            }
        }
    }
}
