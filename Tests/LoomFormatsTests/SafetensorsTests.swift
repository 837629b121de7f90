import Foundation
import XCTest
import LoomHub
import LoomKernels
@testable import LoomFormats

/// The safetensors reader on files written by Python's `safetensors`
/// (`scripts/gen_safetensors_fixtures.py`), on the real all-MiniLM-L6-v2 checkpoint, the
/// writer's round trip, and hostile headers.
final class SafetensorsTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("loom-safetensors-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        directory = url.path
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    struct Expected: Decodable {
        struct Tensor: Decodable { let dtype: String; let shape: [Int]; let values: String }
        let single: [String: Tensor]
        let single_metadata: [String: String]
        let sharded: [String: Tensor]
    }

    func fixturePath(_ name: String) throws -> String {
        guard let url = Bundle.module.url(forResource: "safetensors", withExtension: nil, subdirectory: "Fixtures") else {
            throw XCTSkip("Fixtures/safetensors missing from the bundle")
        }
        return url.appendingPathComponent(name).path
    }

    func expected() throws -> Expected {
        try JSONDecoder().decode(Expected.self, from: Data(contentsOf: URL(fileURLWithPath: try fixturePath("expected.json"))))
    }

    static func floats(hex: String) -> [Float] {
        var bytes: [UInt8] = []
        var it = hex.utf8.makeIterator()
        func nibble(_ c: UInt8) -> UInt8 { c <= 57 ? c - 48 : (c | 0x20) - 87 }
        while let a = it.next(), let b = it.next() { bytes.append(nibble(a) << 4 | nibble(b)) }
        return stride(from: 0, to: bytes.count, by: 4).map { i in
            Float(bitPattern: UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24)
        }
    }

    func check(_ checkpoint: SafetensorsCheckpoint, against tensors: [String: Expected.Tensor]) throws {
        XCTAssertEqual(checkpoint.tensorNames, tensors.keys.sorted())
        for (name, want) in tensors {
            let (file, info) = try XCTUnwrap(checkpoint.tensor(named: name))
            XCTAssertEqual(info.dtype.rawValue, want.dtype, name)
            XCTAssertEqual(info.shape, want.shape, name)
            let got = try file.floats(info)
            XCTAssertEqual(got.map(\.bitPattern), Self.floats(hex: want.values).map(\.bitPattern), name)
        }
    }

    // MARK: - Files written by Python safetensors

    func testReadsSingleFileFromPythonSafetensors() throws {
        let e = try expected()
        let file = try SafetensorsFile(path: try fixturePath("single.safetensors"))
        XCTAssertEqual(file.metadata, e.single_metadata)
        XCTAssertEqual(file.tensors.count, 7)
        try check(SafetensorsCheckpoint(files: [file]), against: e.single)
        XCTAssertEqual(file.tensor(named: "scalar")?.shape, [])
        XCTAssertEqual(file.tensor(named: "empty")?.byteCount, 0)
    }

    func testReadsShardedCheckpointByDirectoryAndIndex() throws {
        let e = try expected()
        let checkpoint = try SafetensorsCheckpoint(directory: try fixturePath("sharded"))
        XCTAssertEqual(checkpoint.files.count, 2)
        try check(checkpoint, against: e.sharded)
        XCTAssertEqual(checkpoint.tensor(named: "lm_head.weight").map { ($0.file.path as NSString).lastPathComponent },
                       "model-00001-of-00002.safetensors")
        XCTAssertNotNil(checkpoint.indexMetadata["total_size"])
    }

    // MARK: - The real all-MiniLM-L6-v2 checkpoint

    func testReadsRealMiniLMCheckpoint() throws {
        struct Facts: Decodable {
            struct Sample: Decodable { let first: String; let last: String; let sum: Double }
            let count: Int
            let shapes: [String: [Int]]
            let dtypes: [String: String]
            let samples: [String: Sample]
        }
        let facts = try JSONDecoder().decode(Facts.self, from: Data(contentsOf: URL(fileURLWithPath: try fixturePath("minilm_expected.json"))))
        let path = try ModelStore().resolve("minilm", progress: .silent)
        let checkpoint = try SafetensorsCheckpoint(files: [SafetensorsFile(path: path)])
        XCTAssertEqual(checkpoint.tensorNames.count, facts.count)
        for (name, shape) in facts.shapes {
            XCTAssertEqual(checkpoint.tensor(named: name)?.info.shape, shape, name)
            XCTAssertEqual(checkpoint.tensor(named: name)?.info.dtype.rawValue, facts.dtypes[name], name)
        }
        for (name, sample) in facts.samples {
            let v = try checkpoint.floats(named: name)
            XCTAssertEqual(Array(v.prefix(8)), Self.floats(hex: sample.first), name)
            XCTAssertEqual(Array(v.suffix(8)), Self.floats(hex: sample.last), name)
            let sum = v.reduce(0.0) { $0 + Double($1) }
            XCTAssertEqual(sum, sample.sum, accuracy: 1e-9 * max(1, abs(sample.sum)), name)
        }
    }

    // MARK: - Writer

    func testWriterRoundTripAndLayout() throws {
        var writer = SafetensorsWriter()
        writer.metadata = ["format": "pt", "quote\"d": "a\\b\n"]
        try writer.addTensor(name: "a", dtype: .f32, shape: [2, 3], floats: [1, 2, 3, 4, 5, 6])
        try writer.addTensor(name: "b.half", dtype: .f16, shape: [3], floats: [0.5, -2, 65504])
        try writer.addTensor(name: "c.bf16", dtype: .bf16, shape: [2], floats: [1.00390625, -3])
        try writer.addTensor(name: "d", dtype: .u8, shape: [1, 2], data: [7, 255])
        XCTAssertThrowsError(try writer.addTensor(name: "a", dtype: .f32, shape: [1], floats: [1]))
        XCTAssertThrowsError(try writer.addTensor(name: "e", dtype: .f32, shape: [2], floats: [1]))
        let path = directory + "/out.safetensors"
        try writer.write(to: path)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let headerLength = bytes.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        XCTAssertEqual(headerLength % 8, 0, "header padded to 8 bytes like Python safetensors")
        let file = try SafetensorsFile(path: path)
        XCTAssertEqual(file.metadata, writer.metadata)
        XCTAssertEqual(try file.floats(file.tensor(named: "a")!), [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(try file.floats(file.tensor(named: "b.half")!), [0.5, -2, 65504])
        XCTAssertEqual(try file.floats(file.tensor(named: "c.bf16")!), [1.0, -3], "1.00390625 rounds to even in BF16")
        XCTAssertEqual(try file.floats(file.tensor(named: "d")!), [7, 255])
        XCTAssertEqual(file.tensor(named: "d")?.shape, [1, 2])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), ["out.safetensors"], "no temporary left")
    }

    // MARK: - Hostile headers

    /// A file from a header string and `dataSize` data bytes.
    func write(header: String, dataSize: Int = 16, lengthOverride: UInt64? = nil) throws -> String {
        let json = Array(header.utf8)
        var bytes = withUnsafeBytes(of: (lengthOverride ?? UInt64(json.count)).littleEndian) { Array($0) }
        bytes += json + [UInt8](repeating: 0, count: dataSize)
        let path = directory + "/bad-\(UUID().uuidString).safetensors"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    func assertRejected(_ path: String, tensor: String? = nil, field: String?, contains text: String,
                        file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try SafetensorsFile(path: path), file: file, line: line) { error in
            guard let e = error as? SafetensorsError else { return XCTFail("\(error)", file: file, line: line) }
            XCTAssertEqual(e.path, path, file: file, line: line)
            XCTAssertEqual(e.tensor, tensor, "\(e)", file: file, line: line)
            XCTAssertEqual(e.field, field, "\(e)", file: file, line: line)
            XCTAssertTrue(e.description.contains(text), "\(e)", file: file, line: line)
        }
    }

    func testCorruptHeadersAreNamedErrors() throws {
        let ok = #"{"t":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}"#
        XCTAssertNoThrow(try SafetensorsFile(path: try write(header: ok)))

        let short = directory + "/short.safetensors"
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: short))
        assertRejected(short, field: "header length", contains: "too short")
        assertRejected(try write(header: ok, lengthOverride: 1 << 40), field: "header length", contains: "exceeds")
        assertRejected(try write(header: ok, dataSize: 0, lengthOverride: 200), field: "header length", contains: "only")
        assertRejected(try write(header: #"{"t":{"dtype":"F32","#), field: "header", contains: "invalid JSON")
        assertRejected(try write(header: #"[1,2]"#), field: "header", contains: "not an object")
        assertRejected(try write(header: String(repeating: "[", count: 5000)), field: "header", contains: "nested")
        assertRejected(try write(header: #"{"t":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}}"#),
                       tensor: "t", field: "dtype", contains: "unknown dtype 'F8_E4M3'")
        assertRejected(try write(header: #"{"t":{"shape":[2],"data_offsets":[0,8]}}"#), tensor: "t", field: "dtype", contains: "missing")
        assertRejected(try write(header: #"{"t":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#),
                       tensor: "t", field: "shape", contains: "non-negative")
        assertRejected(try write(header: #"{"t":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}}"#),
                       tensor: "t", field: "shape", contains: "non-negative integer")
        assertRejected(try write(header: #"{"t":{"dtype":"F32","shape":[4,4],"data_offsets":[0,64]}}"#),
                       tensor: "t", field: "data_offsets", contains: "past the data section of 16 bytes")
        assertRejected(try write(header: #"{"t":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}}"#),
                       tensor: "t", field: "data_offsets", contains: "needs 12")
        assertRejected(try write(header: #"{"t":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#),
                       tensor: "t", field: "data_offsets", contains: "not an increasing range")
        assertRejected(try write(header: #"{"t":{"dtype":"F32","shape":[2],"data_offsets":[0]}}"#),
                       tensor: "t", field: "data_offsets", contains: "two integers")
        assertRejected(try write(header: #"{"t":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,16]}}"#),
                       tensor: "t", field: "shape", contains: "too many elements")
        assertRejected(try write(header: #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#, dataSize: 16),
                       tensor: "b", field: "data_offsets", contains: "overlaps tensor 'a'")
        // A header length one byte short of a space-padded header still parses; the data
        // section is then one byte longer than the tensors and every tensor would be read
        // shifted by a byte. The reference reader refuses that, and so does Loom. Likewise
        // for a gap at the end (trailing bytes) and a file truncated before the last tensor ends.
        let padded = ok + "       "
        assertRejected(try write(header: padded, lengthOverride: UInt64(padded.utf8.count - 1)),
                       field: "header length", contains: "the tensors end at data byte 16 but the data section")
        assertRejected(try write(header: ok, dataSize: 17), field: "header length", contains: "has 17 bytes")
        assertRejected(try write(header: #"{"t":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#),
                       tensor: "t", field: "data_offsets", contains: "leaves bytes 0..<8 of the data section unused")
        assertRejected(try write(header: #"{"__metadata__":{"k":3}}"#), field: "__metadata__", contains: "not a string")
        assertRejected(try write(header: #"{"t":[1]}"#), tensor: "t", field: nil, contains: "not an object")
    }

    /// A header that is not JSON is named by line, column and file byte (the JSON starts at
    /// byte 8, after the length) and by the problem, not by a generic Foundation message.
    func testMalformedHeaderNamesThePosition() throws {
        // The 'x' is JSON byte 14: line 1, column 15, file byte 22.
        assertRejected(try write(header: #"{"t":{"dtype":x}}"#), field: "header",
                       contains: "invalid JSON at line 1, column 15 (file byte 22): unexpected character 'x', expected a value")
        // The second ',' is JSON byte 12, on line 2 (which starts at byte 2): column 11, file byte 20.
        assertRejected(try write(header: "{\n  \"t\": [1,,2]\n}"), field: "header",
                       contains: "invalid JSON at line 2, column 11 (file byte 20): unexpected character ','")
        // Truncated text and trailing garbage say so.
        assertRejected(try write(header: #"{"t":{"dtype":"F32","#), field: "header", contains: "unexpected end of input")
        assertRejected(try write(header: #"{"t":1} {}"#), field: "header", contains: "after the JSON value")
        // Numbers written with an exponent still count as integers when they are whole.
        XCTAssertNoThrow(try SafetensorsFile(path: try write(header: #"{"t":{"dtype":"F32","shape":[2e0,2],"data_offsets":[0,1.6e1]}}"#)))
    }

    func testHostileIndexFiles() throws {
        let shard = directory + "/a.safetensors"
        var writer = SafetensorsWriter()
        try writer.addTensor(name: "x", dtype: .f32, shape: [1], floats: [1])
        try writer.write(to: shard)
        func index(_ json: String) throws -> String {
            let p = directory + "/model.safetensors.index.json"
            try json.write(toFile: p, atomically: true, encoding: .utf8)
            return p
        }
        func rejected(_ json: String, _ text: String, line: UInt = #line) throws {
            XCTAssertThrowsError(try SafetensorsCheckpoint(indexPath: index(json)), line: line) { error in
                XCTAssertTrue("\(error)".contains(text), "\(error)", line: line)
            }
        }
        XCTAssertEqual(try SafetensorsCheckpoint(indexPath: index(#"{"weight_map":{"x":"a.safetensors"}}"#)).tensorNames, ["x"])
        try rejected(#"{"weight_map":{"x":"../a.safetensors"}}"#, "not a plain file name")
        try rejected(#"{"weight_map":{"y":"a.safetensors"}}"#, "tensor 'y'")
        try rejected(#"{"nothing":1}"#, "weight_map")
        try rejected(#"{"weight_map":{"x":"missing.safetensors"}}"#, "missing.safetensors")
        try rejected("{", "invalid JSON")
        // The 'x' is byte 16, on line 2 (which starts at byte 2): column 15.
        try rejected("{\n\"weight_map\": x}", "invalid JSON at line 2, column 15 (byte 16): unexpected character 'x'")
        try rejected(#"{"weight_map":{"x":1}}"#, "file name is not a string")
        let withMetadata = try SafetensorsCheckpoint(indexPath: index(
            #"{"metadata":{"total_size":4,"format":"pt","scale":0.5,"flag":true,"none":null},"weight_map":{"x":"a.safetensors"}}"#))
        XCTAssertEqual(withMetadata.indexMetadata, ["total_size": "4", "format": "pt", "scale": "0.5"], "numbers and strings only")
        XCTAssertThrowsError(try SafetensorsCheckpoint(directory: directory + "/nowhere"))
    }
}
