import Foundation
import XCTest
import LoomKernels
@testable import LoomFormats

/// GGUFWriter: round trips through GGUFFile, byte identity with gguf-py's writer, and
/// rejection of invalid input.
final class GGUFWriterTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("loom-gguf-writer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        directory = url.path
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Deterministic pseudo-random bytes (so a failure is reproducible).
    static func bytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        return (0..<count).map { _ in
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return UInt8(truncatingIfNeeded: state >> 24)
        }
    }

    func testRoundTripEveryValueTypeAndTensorType() throws {
        var writer = GGUFWriter(alignment: 128)
        let scalars: [(String, GGUFValue)] = [
            ("general.architecture", .string("llama")),
            ("v.u8", .uint8(255)), ("v.i8", .int8(-128)),
            ("v.u16", .uint16(65535)), ("v.i16", .int16(-32768)),
            ("v.u32", .uint32(.max)), ("v.i32", .int32(.min)),
            ("v.u64", .uint64(.max)), ("v.i64", .int64(.min)),
            ("v.f32", .float32(-.infinity)), ("v.f64", .float64(.ulpOfOne)),
            ("v.bool.t", .bool(true)), ("v.bool.f", .bool(false)),
            ("v.str", .string("ünïcode ✓ \u{0}nul inside")), ("v.empty_str", .string("")),
            ("v.arr.u8", .array([.uint8(1), .uint8(2)])),
            ("v.arr.i16", .array([.int16(-5)])),
            ("v.arr.u64", .array([.uint64(0), .uint64(.max)])),
            ("v.arr.f64", .array([.float64(1.5), .float64(-0.25)])),
            ("v.arr.bool", .array([.bool(false), .bool(true)])),
            ("v.arr.str", .array([.string("Ġthe"), .string(""), .string("🦙")])),
        ]
        for (key, value) in scalars { writer.setMetadata(key, value) }
        writer.setMetadata("v.arr.empty", emptyArrayOf: .int32)
        writer.setMetadata("v.u8", .uint8(7))  // replaces in place, keeps position

        var expectedTensors: [(String, GGMLType, [Int], [UInt8])] = []
        for (index, type) in GGMLType.allCases.enumerated() {
            // 1 to 4 dimensions, row length one or two blocks.
            let dims = [type.blockSize * (index % 2 + 1), 3, 2, 1].prefix(index % 4 + 1).map { $0 }
            let data = Self.bytes(type.byteCount(elements: dims.reduce(1, *)), seed: UInt64(index))
            expectedTensors.append(("t.\(type)", type, dims, data))
        }
        expectedTensors.append(("scalar", .f32, [], Self.bytes(4, seed: 99)))
        for (name, type, dims, data) in expectedTensors {
            try writer.addTensor(name: name, type: type, dimensions: dims, data: data)
        }

        let path = directory + "/round.gguf"
        try writer.write(to: path)
        let file = try GGUFFile(path: path)
        XCTAssertEqual(file.version, 3)
        XCTAssertEqual(file.alignment, 128)
        XCTAssertEqual(file.dataOffset % 128, 0)

        var expectedKeys = scalars.map(\.0)
        expectedKeys.append("v.arr.empty")
        expectedKeys.append("general.alignment")
        XCTAssertEqual(file.metadataKeys, expectedKeys)
        for (key, value) in scalars where key != "v.u8" {
            XCTAssertEqual(file[key], value, key)
        }
        XCTAssertEqual(file["v.u8"], .uint8(7))
        XCTAssertEqual(file["v.arr.empty"], .array([]))
        XCTAssertEqual(file.arrayElementType(forKey: "v.arr.empty"), .int32)
        XCTAssertEqual(file.arrayElementType(forKey: "v.arr.str"), .string)
        XCTAssertNil(file.arrayElementType(forKey: "v.str"))
        XCTAssertEqual(file["general.alignment"], .uint32(128))

        XCTAssertEqual(file.tensors.map(\.name), expectedTensors.map(\.0))
        for (info, (name, type, dims, data)) in zip(file.tensors, expectedTensors) {
            XCTAssertEqual(info.type, type, name)
            XCTAssertEqual(info.dimensions, dims, name)
            XCTAssertEqual(info.offset % 128, 0, name)
            XCTAssertEqual(info.byteCount, data.count, name)
            XCTAssertEqual([UInt8](file.bytes(for: info)), data, name)
        }
        let scalar = try XCTUnwrap(file.tensor(named: "scalar"))
        XCTAssertEqual(scalar.elementCount, 1)
        XCTAssertEqual(scalar.rowLength, 1)
        XCTAssertEqual(scalar.rowCount, 1)
    }

    /// From the spec gguf-py wrote its file from, Loom's writer produces the same bytes.
    func testSameBytesAsGGUFPyWriter() throws {
        let fixture = try GGUFFixture.load("gguf_pywriter")
        var writer = GGUFWriter(alignment: try XCTUnwrap(fixture["alignment"] as? Int))
        for entry in try XCTUnwrap(fixture["metadata"] as? [[String: Any]]) {
            writer.setMetadata(entry["key"] as! String, try GGUFFixture.value(entry))
        }
        for entry in try XCTUnwrap(fixture["tensors"] as? [[String: Any]]) {
            let type = try XCTUnwrap(GGMLType(rawValue: UInt32(entry["type"] as! Int)))
            let data = [UInt8](try XCTUnwrap(Data(base64Encoded: entry["data_base64"] as! String)))
            try writer.addTensor(name: entry["name"] as! String, type: type,
                                 dimensions: entry["dims"] as! [Int], data: data)
        }
        let path = directory + "/loom.gguf"
        try writer.write(to: path)
        let ours = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let theirs = [UInt8](try XCTUnwrap(Data(base64Encoded: fixture["file_base64"] as! String)))
        XCTAssertEqual(ours.count, theirs.count)
        let firstDifference = zip(ours, theirs).enumerated().first { $0.element.0 != $0.element.1 }?.offset
        XCTAssertNil(firstDifference, "first differing byte")
    }

    func testDefaultAlignmentIsNotWritten() throws {
        var writer = GGUFWriter()
        writer.setMetadata("a", .int32(1))
        try writer.addTensor(name: "x", type: .f16, dimensions: [3], data: Self.bytes(6, seed: 1))
        try writer.addTensor(name: "y", type: .q8_0, dimensions: [32], data: Self.bytes(34, seed: 2))
        let path = directory + "/default.gguf"
        try writer.write(to: path)
        let file = try GGUFFile(path: path)
        XCTAssertEqual(file.metadataKeys, ["a"])
        XCTAssertEqual(file.alignment, 32)
        XCTAssertEqual(file.tensors.map(\.offset), [0, 32])
        // The last tensor is padded too, as gguf-py and gguf.cpp do.
        XCTAssertEqual(file.fileSize, file.dataOffset + 64 + 32)
    }

    func testAddTensorRejectsInvalidInput() {
        var writer = GGUFWriter()
        func expect(_ fragment: String, _ body: (inout GGUFWriter) throws -> Void,
                    file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertThrowsError(try body(&writer), file: file, line: line) { error in
                let text = String(describing: error)
                XCTAssertTrue(error is GGUFError, text, file: file, line: line)
                XCTAssertTrue(text.contains(fragment), "'\(text)' lacks '\(fragment)'", file: file, line: line)
            }
        }
        XCTAssertNoThrow(try writer.addTensor(name: "ok", type: .f32, dimensions: [2], data: Self.bytes(8, seed: 0)))
        expect("tensor 'ok': duplicate tensor name") {
            try $0.addTensor(name: "ok", type: .f32, dimensions: [2], data: Self.bytes(8, seed: 0))
        }
        expect("data has 7 bytes, but [2] of F32 needs 8") {
            try $0.addTensor(name: "short", type: .f32, dimensions: [2], data: Self.bytes(7, seed: 0))
        }
        expect("ne[1] = 0 is not positive") {
            try $0.addTensor(name: "zero", type: .f32, dimensions: [2, 0], data: [])
        }
        expect("5 dimensions, at most 4") {
            try $0.addTensor(name: "five", type: .f32, dimensions: [1, 1, 1, 1, 1], data: Self.bytes(4, seed: 0))
        }
        expect("row length 16 is not a multiple of the Q4_0 block size 32") {
            try $0.addTensor(name: "q", type: .q4_0, dimensions: [16], data: Self.bytes(9, seed: 0))
        }
        expect("element count overflows") {
            try $0.addTensor(name: "huge", type: .f32, dimensions: [1 << 40, 1 << 40], data: [])
        }
        var misaligned = GGUFWriter(alignment: 48)
        XCTAssertThrowsError(try misaligned.addTensor(name: "a", type: .f32, dimensions: [1], data: Self.bytes(4, seed: 0))) {
            XCTAssertTrue(String(describing: $0).contains("alignment 48 is not a non-zero power of two"), "\($0)")
        }
        XCTAssertThrowsError(try misaligned.write(to: directory + "/never.gguf"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/never.gguf"))
    }

    func testWriteRejectsInvalidMetadata() throws {
        let cases: [(GGUFValue, String, String)] = [
            (.array([.array([.int32(1)])]), "key 'k'", "nested arrays are not supported"),
            (.array([.int32(1), .uint32(2)]), "key 'k' [1]", "array mixes INT32 and UINT32 elements"),
        ]
        for (value, field, reason) in cases {
            var writer = GGUFWriter()
            writer.setMetadata("k", value)
            XCTAssertThrowsError(try writer.write(to: directory + "/bad.gguf")) { error in
                let e = error as? GGUFError
                XCTAssertEqual(e?.field, field)
                XCTAssertEqual(e?.reason, reason)
            }
        }
        var conflicting = GGUFWriter(alignment: 64)
        conflicting.setMetadata("general.alignment", .uint32(32))
        XCTAssertThrowsError(try conflicting.write(to: directory + "/bad.gguf")) {
            XCTAssertEqual(($0 as? GGUFError)?.field, "general.alignment")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), [])
    }

    /// A writer killed with SIGKILL leaves its temporary behind; the next write to the same
    /// destination removes it (its process is gone) but keeps a live process's temporary and
    /// files that only look similar.
    func testStaleTemporariesOfDeadProcessesAreRemoved() throws {
        let finished = Process()
        finished.executableURL = URL(fileURLWithPath: "/bin/true")
        try finished.run()
        finished.waitUntilExit()
        let deadPID = finished.processIdentifier
        let names = [
            ".model.gguf.\(deadPID).12345.tmp",       // a dead writer's: removed
            ".model.gguf.1.777.tmp",                   // pid 1 is alive: kept
            ".other.gguf.\(deadPID).5.tmp",           // another destination's: kept
            ".model.gguf.\(deadPID).notanumber.tmp",  // not Loom's pattern: kept
        ]
        for name in names {
            try Data(repeating: 7, count: 100).write(to: URL(fileURLWithPath: directory + "/" + name))
        }
        var writer = GGUFWriter()
        writer.setMetadata("general.architecture", .string("llama"))
        try writer.write(to: directory + "/model.gguf")
        let left = Set(try FileManager.default.contentsOfDirectory(atPath: directory))
        XCTAssertEqual(left, Set(["model.gguf"] + names.dropFirst()))
    }

    /// Writing replaces an existing file, leaves no temporary file behind, and a failed write
    /// (missing directory) leaves nothing at all.
    func testAtomicWrite() throws {
        let path = directory + "/model.gguf"
        try Data("old contents".utf8).write(to: URL(fileURLWithPath: path))
        var writer = GGUFWriter()
        writer.setMetadata("general.architecture", .string("llama"))
        try writer.write(to: path)
        XCTAssertEqual(try GGUFFile(path: path)["general.architecture"]?.stringValue, "llama")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), ["model.gguf"])

        XCTAssertThrowsError(try writer.write(to: directory + "/missing/model.gguf")) { error in
            XCTAssertEqual((error as? GGUFError)?.field, "file")
            XCTAssertTrue(String(describing: error).contains("cannot create temporary file"), "\(error)")
        }
    }

    /// Tensors given as producers are written byte-identically to eager ones, produced one at
    /// a time in order during `write` (not when added); a producer that throws or returns the
    /// wrong byte count fails the write and leaves neither the old file's replacement nor a
    /// temporary file behind.
    func testStreamedTensorsMatchEagerOnesAndFailCleanly() throws {
        let tensors: [(String, GGMLType, [Int], [UInt8])] = [
            ("a", .f32, [3, 2], Self.bytes(24, seed: 1)), ("b", .q8_0, [64], Self.bytes(68, seed: 2)),
            ("c", .f16, [5], Self.bytes(10, seed: 3))]
        var eager = GGUFWriter(), streamed = GGUFWriter()
        final class Log: @unchecked Sendable { var events: [String] = [] }
        let log = Log()
        for (name, type, dims, data) in tensors {
            try eager.addTensor(name: name, type: type, dimensions: dims, data: data)
            try streamed.addTensor(name: name, type: type, dimensions: dims) { log.events.append(name); return data }
        }
        XCTAssertEqual(log.events, [], "producers run during write, not when added")
        try eager.write(to: directory + "/eager.gguf")
        try streamed.write(to: directory + "/streamed.gguf")
        XCTAssertEqual(log.events, ["a", "b", "c"])
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: directory + "/eager.gguf")),
                       try Data(contentsOf: URL(fileURLWithPath: directory + "/streamed.gguf")))

        struct Boom: Error {}
        let path = directory + "/model.gguf"
        try Data("old contents".utf8).write(to: URL(fileURLWithPath: path))
        var short = GGUFWriter()
        try short.addTensor(name: "x", type: .f32, dimensions: [4]) { Self.bytes(12, seed: 0) }
        XCTAssertThrowsError(try short.write(to: path)) { XCTAssertTrue("\($0)".contains("12 bytes"), "\($0)") }
        var failing = GGUFWriter()
        try failing.addTensor(name: "x", type: .f32, dimensions: [4]) { throw Boom() }
        XCTAssertThrowsError(try failing.write(to: path)) { XCTAssertTrue($0 is Boom) }
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "old contents")
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: directory)), ["eager.gguf", "streamed.gguf", "model.gguf"])
    }
}
