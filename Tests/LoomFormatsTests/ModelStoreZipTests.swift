import Foundation
import XCTest
@testable import LoomFormats

/// The wheel reader: zip structure and the deflate decoder, checked against archives and raw
/// streams made by Python's zipfile and zlib.
final class ModelStoreZipTests: XCTestCase {
    private var dir = ""

    override func setUpWithError() throws {
        dir = try ModelStoreTestSupport.temporaryDirectory("zip")
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// Payloads that exercise literals, long and overlapping matches (distance 1 runs,
    /// distances < 8), incompressible data (stored blocks) and output beyond the 1 MiB flush.
    private func payloads() -> [(String, [UInt8])] {
        let random = ModelStoreTestSupport.randomBytes(300_000, seed: 5)
        var mixed = [UInt8]()
        let words = ["tensor", "blk.", "attn_q", "weight", "\u{00e9}t\u{00e9}", "0000", "ab"].map { Array($0.utf8) }
        var state: UInt64 = 99
        while mixed.count < 2_600_000 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            switch state >> 61 {
            case 0: mixed += [UInt8](repeating: UInt8(truncatingIfNeeded: state >> 20), count: Int(state >> 40 & 511))
            case 1: mixed += ModelStoreTestSupport.randomBytes(Int(state >> 50 & 255) + 1, seed: state)
            case 2: mixed += Array(repeating: [1, 2, 3] as [UInt8], count: 40).flatMap { $0 }
            default: mixed += words[Int(state >> 33) % words.count]
            }
        }
        return [
            ("empty.bin", []),
            ("hello.txt", Array("hello, wheel\n".utf8)),
            ("random.bin", random),
            ("mixed.bin", mixed),
        ]
    }

    private func writePayloads() throws -> [(String, [UInt8])] {
        let items = payloads()
        for (name, bytes) in items {
            try Data(bytes).write(to: URL(fileURLWithPath: "\(dir)/\(name)"))
        }
        return items
    }

    /// A wheel-like archive with every payload deflated at levels 1, 6 and 9 and stored; every
    /// entry must extract to the original bytes.
    func testExtractsEntriesMadeByPythonZipfile() throws {
        let items = try writePayloads()
        let archive = dir + "/test-1.0-py3-none-any.whl"
        _ = try ModelStoreTestSupport.python("""
            import sys, zipfile
            d, out, names = sys.argv[1], sys.argv[2], sys.argv[3:]
            with zipfile.ZipFile(out, 'w') as z:
                for n in names:
                    data = open(d + '/' + n, 'rb').read()
                    for level in (1, 6, 9):
                        z.writestr(zipfile.ZipInfo(f'pkg/deflate{level}/{n}'), data, zipfile.ZIP_DEFLATED, level)
                    z.writestr(zipfile.ZipInfo(f'pkg/stored/{n}'), data, zipfile.ZIP_STORED)
            """, [dir, archive] + items.map(\.0))
        try checkArchive(archive, items: items, folders: ["deflate1", "deflate6", "deflate9", "stored"])
    }

    /// Zip64 structures (the end records and the per-entry extra field with sizes and offsets)
    /// without writing 4 GB: Python's zipfile is told its Zip64 threshold is 1000 bytes.
    func testExtractsZip64Archive() throws {
        let items = try writePayloads()
        let archive = dir + "/zip64.whl"
        _ = try ModelStoreTestSupport.python("""
            import sys, zipfile
            zipfile.ZIP64_LIMIT = 1000
            d, out, names = sys.argv[1], sys.argv[2], sys.argv[3:]
            with zipfile.ZipFile(out, 'w') as z:
                for n in names:
                    data = open(d + '/' + n, 'rb').read()
                    z.writestr(zipfile.ZipInfo(f'pkg/deflate/{n}'), data, zipfile.ZIP_DEFLATED, 6)
                    z.writestr(zipfile.ZipInfo(f'pkg/stored/{n}'), data, zipfile.ZIP_STORED)
            """, [dir, archive] + items.map(\.0))
        // The archive really uses Zip64: end locator present, placeholders in the directory.
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: archive)))
        XCTAssertEqual(Array(bytes[(bytes.count - 42)..<(bytes.count - 38)]), [0x50, 0x4b, 0x06, 0x07])
        XCTAssertTrue(Data(bytes).range(of: Data([0x01, 0x00, 0x18, 0x00])) != nil, "no 24-byte Zip64 extra field")
        try checkArchive(archive, items: items, folders: ["deflate", "stored"])
    }

    private func checkArchive(_ archive: String, items: [(String, [UInt8])], folders: [String]) throws {
        let zip = try ZipArchive(path: archive)
        XCTAssertEqual(zip.entries.count, items.count * folders.count)
        for (name, bytes) in items {
            for folder in folders {
                let entryName = "pkg/\(folder)/\(name)"
                let entry = try XCTUnwrap(zip.entry(named: entryName), entryName)
                XCTAssertEqual(entry.uncompressedSize, bytes.count, entryName)
                var out = [UInt8]()
                try zip.extract(entry) { out.append(contentsOf: $0) }
                XCTAssertEqual(out.count, bytes.count, entryName)
                XCTAssertTrue(out == bytes, "\(entryName) differs")
            }
        }
        XCTAssertNil(zip.entry(named: "pkg/missing"))
    }

    /// Raw deflate streams with each zlib strategy (fixed Huffman, Huffman-only, RLE,
    /// filtered, default) and level 0 (stored blocks), decoded by `Inflater` directly.
    func testInflatesEveryZlibStrategy() throws {
        let items = try writePayloads()
        let outDir = dir + "/raw"
        try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true)
        let listing = try ModelStoreTestSupport.python("""
            import sys, zlib
            d, out, names = sys.argv[1], sys.argv[2], sys.argv[3:]
            strategies = {'fixed': (6, zlib.Z_FIXED), 'huffman': (6, zlib.Z_HUFFMAN_ONLY), 'rle': (6, zlib.Z_RLE),
                          'filtered': (6, zlib.Z_FILTERED), 'default': (9, zlib.Z_DEFAULT_STRATEGY), 'level0': (0, zlib.Z_DEFAULT_STRATEGY)}
            for n in names:
                data = open(d + '/' + n, 'rb').read()
                for s, (level, strategy) in strategies.items():
                    c = zlib.compressobj(level, zlib.DEFLATED, -15, 9, strategy)
                    open(f'{out}/{n}.{s}', 'wb').write(c.compress(data) + c.flush())
                    print(f'{n}.{s}')
            """, [dir, outDir] + items.map(\.0))
        let files = listing.split(separator: "\n").map(String.init)
        XCTAssertEqual(files.count, items.count * 6)
        for (name, bytes) in items {
            for file in files where file.hasPrefix(name + ".") {
                let stream = try [UInt8](Data(contentsOf: URL(fileURLWithPath: "\(outDir)/\(file)")))
                var out = [UInt8]()
                let count = try stream.withUnsafeBytes { raw in
                    try Inflater.inflate(raw, outputLimit: bytes.count) { out.append(contentsOf: $0) }
                }
                XCTAssertEqual(count, bytes.count, file)
                XCTAssertTrue(out == bytes, "\(file) differs")
            }
        }
    }

    /// Every strict prefix of a stream is missing its end and must be rejected, and a stream
    /// that inflates beyond the declared size must be stopped.
    func testTruncatedStreamsAndOutputLimitAreErrors() throws {
        let bytes = Array("the quick brown fox jumps over the lazy dog; the quick brown fox again".utf8) + ModelStoreTestSupport.randomBytes(3000, seed: 2)
        let path = dir + "/data.bin"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        for strategy in ["zlib.Z_DEFAULT_STRATEGY", "zlib.Z_FIXED"] {
            let rawPath = dir + "/data.deflate"
            _ = try ModelStoreTestSupport.python("""
                import sys, zlib
                c = zlib.compressobj(6, zlib.DEFLATED, -15, 9, \(strategy))
                open(sys.argv[2], 'wb').write(c.compress(open(sys.argv[1], 'rb').read()) + c.flush())
                """, [path, rawPath])
            let stream = try [UInt8](Data(contentsOf: URL(fileURLWithPath: rawPath)))
            for cut in 0..<stream.count {
                XCTAssertThrowsError(try Array(stream[0..<cut]).withUnsafeBytes { raw in
                    try Inflater.inflate(raw, outputLimit: bytes.count) { _ in }
                }, "prefix of \(cut) bytes accepted")
            }
            XCTAssertThrowsError(try stream.withUnsafeBytes { raw in
                try Inflater.inflate(raw, outputLimit: bytes.count - 1) { _ in }
            }) { error in
                XCTAssertTrue("\(error)".contains("more than the declared"), "\(error)")
            }
        }
    }

    /// Hand-made invalid streams: block type 3, a stored block whose length check fails, and
    /// a back-reference before the start of the output.
    func testInvalidStreamsNameTheProblem() {
        func failure(_ bytes: [UInt8]) -> String {
            do {
                _ = try bytes.withUnsafeBytes { raw in try Inflater.inflate(raw, outputLimit: 1 << 20) { _ in } }
                return "accepted"
            } catch {
                return "\(error)"
            }
        }
        XCTAssertTrue(failure([0x07]).contains("block type 3"))
        XCTAssertTrue(failure([0x01, 0x05, 0x00, 0x00, 0x00]).contains("complement"))
        // Fixed block: length code 257 (3 bytes) with distance code 0 (distance 1) and no output yet.
        // BFINAL=1, BTYPE=01, then 257 = 0000001 (7 bits), then distance 00000.
        XCTAssertTrue(failure([0x03, 0x02, 0x00]).contains("before the start"), failure([0x03, 0x02, 0x00]))
    }

    /// Flipping bytes of the compressed data must never yield a silent wrong answer: the
    /// decoder or the CRC-32 check rejects every variant.
    func testCorruptedEntryDataIsRejected() throws {
        let bytes = ModelStoreTestSupport.randomBytes(20_000, seed: 9) + Array(repeating: 65, count: 20_000)
        let path = dir + "/data.bin"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let archive = dir + "/a.zip"
        _ = try ModelStoreTestSupport.python("""
            import sys, zipfile
            with zipfile.ZipFile(sys.argv[2], 'w', zipfile.ZIP_DEFLATED) as z:
                z.write(sys.argv[1], 'pkg/data.bin')
            """, [path, archive])
        let original = try [UInt8](Data(contentsOf: URL(fileURLWithPath: archive)))
        let entry = try XCTUnwrap(ZipArchive(path: archive).entry(named: "pkg/data.bin"))
        let dataStart = entry.localHeaderOffset + 30 + "pkg/data.bin".utf8.count
        var rejected = 0
        for i in stride(from: dataStart, to: dataStart + entry.compressedSize, by: max(1, entry.compressedSize / 97)) {
            var damaged = original
            damaged[i] ^= 0x5A
            let damagedPath = dir + "/damaged.zip"
            try Data(damaged).write(to: URL(fileURLWithPath: damagedPath))
            let zip = try ZipArchive(path: damagedPath)
            XCTAssertThrowsError(try zip.extract(zip.entry(named: "pkg/data.bin")!) { _ in }, "flip at \(i)") { error in
                XCTAssertTrue(error is ZipError, "\(error)")
            }
            rejected += 1
        }
        XCTAssertGreaterThan(rejected, 90)
    }

    func testDamagedArchivesAreErrors() throws {
        let notZip = dir + "/not.zip"
        try Data(repeating: 0x41, count: 5000).write(to: URL(fileURLWithPath: notZip))
        XCTAssertThrowsError(try ZipArchive(path: notZip)) { error in
            XCTAssertTrue("\(error)".contains("end-of-central-directory"), "\(error)")
        }
        let tiny = dir + "/tiny.zip"
        try Data([0x50, 0x4b]).write(to: URL(fileURLWithPath: tiny))
        XCTAssertThrowsError(try ZipArchive(path: tiny))
        XCTAssertThrowsError(try ZipArchive(path: dir + "/missing.zip"))

        let path = dir + "/data.bin"
        try Data(ModelStoreTestSupport.randomBytes(5000, seed: 1)).write(to: URL(fileURLWithPath: path))
        let archive = dir + "/a.zip"
        _ = try ModelStoreTestSupport.python("""
            import sys, zipfile
            with zipfile.ZipFile(sys.argv[2], 'w', zipfile.ZIP_DEFLATED) as z:
                z.write(sys.argv[1], 'pkg/data.bin')
            """, [path, archive])
        let original = try [UInt8](Data(contentsOf: URL(fileURLWithPath: archive)))
        // Cut the archive in the middle: the directory is gone.
        try Data(original[0..<(original.count / 2)]).write(to: URL(fileURLWithPath: dir + "/cut.zip"))
        XCTAssertThrowsError(try ZipArchive(path: dir + "/cut.zip"))
        // Point the central directory offset past the end of the file.
        var badOffset = original
        let eocd = original.count - 22
        badOffset[eocd + 16] = 0xFF
        badOffset[eocd + 17] = 0xFF
        badOffset[eocd + 18] = 0xFF
        try Data(badOffset).write(to: URL(fileURLWithPath: dir + "/offset.zip"))
        XCTAssertThrowsError(try ZipArchive(path: dir + "/offset.zip")) { error in
            XCTAssertTrue("\(error)".contains("outside the file"), "\(error)")
        }
        // Claim an absurd entry count.
        var badCount = original
        badCount[eocd + 10] = 0xFF
        badCount[eocd + 11] = 0x7F
        try Data(badCount).write(to: URL(fileURLWithPath: dir + "/count.zip"))
        XCTAssertThrowsError(try ZipArchive(path: dir + "/count.zip")) { error in
            XCTAssertTrue("\(error)".contains("cannot fit"), "\(error)")
        }
    }

    func testCRC32KnownValue() {
        var crc = CRC32()
        crc.update(Array("123456789".utf8))
        XCTAssertEqual(crc.value, 0xCBF4_3926)
        var split = CRC32()
        split.update(Array("1234".utf8))
        split.update(Array("56789".utf8))
        XCTAssertEqual(split.value, 0xCBF4_3926)
    }
}
