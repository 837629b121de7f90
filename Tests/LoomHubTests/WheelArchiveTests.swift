import Foundation
import XCTest
@testable import LoomHub

/// The wheel reader (ZIPFoundation plus the store's own checks), against archives made by
/// Python's zipfile and zlib, and damaged copies of them.
final class WheelArchiveTests: XCTestCase {
    private var dir = ""

    override func setUpWithError() throws {
        dir = try ModelStoreTestSupport.temporaryDirectory("zip")
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// Payloads that exercise literals, long and overlapping matches (distance 1 runs,
    /// distances < 8), incompressible data (stored blocks) and output beyond one 1 MiB chunk.
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

    /// Everything `WheelArchive` streams out of `member`.
    private func extract(_ archive: String, _ member: String) throws -> [UInt8] {
        let wheel = try WheelArchive(path: archive)
        let entry = try XCTUnwrap(try wheel.member(named: member), member)
        var out = [UInt8]()
        try wheel.extract(entry, chunkBytes: 64 * 1024) { out.append(contentsOf: $0) }
        return out
    }

    /// The `reason` of a `corruptWheel` error, or a failure message.
    private func corruptReason(_ body: () throws -> Void) -> String {
        do {
            try body()
            return "accepted"
        } catch let ModelStoreError.corruptWheel(_, reason) {
            return reason
        } catch {
            return "other error: \(error)"
        }
    }

    /// A one-entry archive `a.zip` holding `pkg/data.bin` = `bytes`, deflated; returns its bytes.
    private func singleEntryArchive(_ bytes: [UInt8]) throws -> (path: String, bytes: [UInt8]) {
        let path = dir + "/data.bin"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let archive = dir + "/a.zip"
        _ = try ModelStoreTestSupport.python("""
            import sys, zipfile
            with zipfile.ZipFile(sys.argv[2], 'w', zipfile.ZIP_DEFLATED) as z:
                z.write(sys.argv[1], 'pkg/data.bin')
            """, [path, archive])
        return (archive, try [UInt8](Data(contentsOf: URL(fileURLWithPath: archive))))
    }

    private func write(_ bytes: [UInt8], _ name: String) throws -> String {
        let path = dir + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
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
        let wheel = try WheelArchive(path: archive)
        XCTAssertEqual(try wheel.memberNames().count, items.count * folders.count)
        for (name, bytes) in items {
            for folder in folders {
                let memberName = "pkg/\(folder)/\(name)"
                let member = try XCTUnwrap(try wheel.member(named: memberName), memberName)
                XCTAssertEqual(member.uncompressedSize, Int64(bytes.count), memberName)
                var out = [UInt8]()
                try wheel.extract(member) { out.append(contentsOf: $0) }
                XCTAssertEqual(out.count, bytes.count, memberName)
                XCTAssertTrue(out == bytes, "\(memberName) differs")
            }
        }
        XCTAssertNil(try wheel.member(named: "pkg/missing"))
    }

    /// Deflate streams made with each zlib strategy (fixed Huffman, Huffman-only, RLE,
    /// filtered, default) and level 0 (stored blocks): zipfile's compressor is swapped for one
    /// with that strategy, so the archive holds exactly those streams.
    func testInflatesEveryZlibStrategy() throws {
        let items = try writePayloads()
        let archive = dir + "/strategies.whl"
        _ = try ModelStoreTestSupport.python("""
            import sys, zipfile, zlib
            d, out, names = sys.argv[1], sys.argv[2], sys.argv[3:]
            strategies = {'fixed': (6, zlib.Z_FIXED), 'huffman': (6, zlib.Z_HUFFMAN_ONLY), 'rle': (6, zlib.Z_RLE),
                          'filtered': (6, zlib.Z_FILTERED), 'default': (9, zlib.Z_DEFAULT_STRATEGY), 'level0': (0, zlib.Z_DEFAULT_STRATEGY)}
            with zipfile.ZipFile(out, 'w') as z:
                for s, (level, strategy) in strategies.items():
                    zipfile._get_compressor = lambda t, l=None, level=level, strategy=strategy: zlib.compressobj(level, zlib.DEFLATED, -15, 9, strategy)
                    for n in names:
                        z.writestr(zipfile.ZipInfo(f'pkg/{s}/{n}'), open(d + '/' + n, 'rb').read(), zipfile.ZIP_DEFLATED)
            """, [dir, archive] + items.map(\.0))
        try checkArchive(archive, items: items, folders: ["fixed", "huffman", "rle", "filtered", "default", "level0"])
    }

    /// Hand-made invalid deflate data inside an otherwise valid archive: block type 3, a
    /// stored block whose length check fails, and a back-reference before the start of the
    /// output. Each is a named error, never a crash or a wrong answer.
    func testInvalidDeflateDataIsAnError() throws {
        // Fixed block: length code 257 (3 bytes) with distance code 0 (distance 1) and no output yet.
        // BFINAL=1, BTYPE=01, then 257 = 0000001 (7 bits), then distance 00000.
        for (label, stream) in [("type3", "07"), ("complement", "0105000000"), ("before-start", "030200")] {
            let archive = dir + "/\(label).zip"
            _ = try ModelStoreTestSupport.python("""
                import sys, zipfile
                raw = bytes.fromhex(sys.argv[2])
                class Fixed:
                    def compress(self, data): return b''
                    def flush(self): return raw
                zipfile._get_compressor = lambda t, l=None: Fixed()
                with zipfile.ZipFile(sys.argv[1], 'w') as z:
                    z.writestr(zipfile.ZipInfo('pkg/data.bin'), b'abcdef', zipfile.ZIP_DEFLATED)
                """, [archive, stream])
            let reason = corruptReason { _ = try extract(archive, "pkg/data.bin") }
            XCTAssertTrue(reason.contains("pkg/data.bin"), "\(label): \(reason)")
            XCTAssertFalse(reason == "accepted" || reason.hasPrefix("other error"), "\(label): \(reason)")
        }
    }

    /// Flipping bytes of the compressed data must never yield a silent wrong answer: the
    /// decoder or the CRC-32 check rejects every variant.
    func testCorruptedEntryDataIsRejected() throws {
        let content = ModelStoreTestSupport.randomBytes(20_000, seed: 9) + Array(repeating: 65, count: 20_000)
        let (archive, original) = try singleEntryArchive(content)
        XCTAssertEqual(try extract(archive, "pkg/data.bin"), content)
        // The only entry's local header is at 0: 30 fixed bytes, then the name and extra field.
        let dataStart = 30 + Int(original[26]) + Int(original[27]) << 8 + Int(original[28]) + Int(original[29]) << 8
        let compressedSize = Int(try ModelStoreTestSupport.python(
            "import sys, zipfile; print(zipfile.ZipFile(sys.argv[1]).getinfo('pkg/data.bin').compress_size)", [archive])
            .trimmingCharacters(in: .whitespacesAndNewlines))!
        var rejected = 0
        for i in stride(from: dataStart, to: dataStart + compressedSize, by: max(1, compressedSize / 97)) {
            var damaged = original
            damaged[i] ^= 0x5A
            let path = try write(damaged, "damaged.zip")
            let reason = corruptReason { _ = try extract(path, "pkg/data.bin") }
            XCTAssertFalse(reason == "accepted" || reason.hasPrefix("other error"), "flip at \(i): \(reason)")
            rejected += 1
        }
        XCTAssertGreaterThan(rejected, 90)
    }

    /// The CRC-32 in the directory is checked: intact data under a wrong CRC is refused, and
    /// so is a size that disagrees with what the data inflates to (smaller stops the
    /// extraction as soon as it is exceeded).
    func testCRCAndSizeFromTheDirectoryAreChecked() throws {
        let content = ModelStoreTestSupport.randomBytes(5000, seed: 4) + Array(repeating: 7, count: 5000)
        let (_, original) = try singleEntryArchive(content)
        let eocd = original.count - 22
        let cd = Int(original[eocd + 16]) | Int(original[eocd + 17]) << 8 | Int(original[eocd + 18]) << 16 | Int(original[eocd + 19]) << 24
        XCTAssertEqual(Array(original[cd..<(cd + 4)]), [0x50, 0x4b, 0x01, 0x02])

        var badCRC = original
        badCRC[cd + 16] ^= 0x01   // the central directory's CRC-32 field
        let crcReason = corruptReason { _ = try extract(write(badCRC, "crc.zip"), "pkg/data.bin") }
        XCTAssertTrue(crcReason.contains("CRC-32"), crcReason)

        var smaller = original
        smaller[cd + 24] = smaller[cd + 24] &- 1   // uncompressed size one less (10000 = 0x2710)
        let smallReason = corruptReason { _ = try extract(write(smaller, "small.zip"), "pkg/data.bin") }
        XCTAssertTrue(smallReason.contains("more than the recorded 9999 bytes"), smallReason)

        var larger = original
        larger[cd + 24] = larger[cd + 24] &+ 1
        let largeReason = corruptReason { _ = try extract(write(larger, "large.zip"), "pkg/data.bin") }
        XCTAssertTrue(largeReason.contains("inflated to 10000 bytes, the directory says 10001"), largeReason)
    }

    /// Member names that could escape a directory, and members that are links or directories,
    /// are refused, whether or not the archive has them.
    func testUnsafeMembersAreRefused() throws {
        let archive = dir + "/evil.whl"
        _ = try ModelStoreTestSupport.python("""
            import sys, zipfile
            with zipfile.ZipFile(sys.argv[1], 'w') as z:
                z.writestr('../escape.bin', b'x')
                z.writestr('/abs.bin', b'x')
                z.writestr('pkg/ok.bin', b'fine')
                link = zipfile.ZipInfo('pkg/link.bin')
                link.create_system = 3
                link.external_attr = 0o120777 << 16
                z.writestr(link, '../../etc/passwd')
                z.writestr(zipfile.ZipInfo('pkg/dir/'), b'')
            """, [archive])
        let wheel = try WheelArchive(path: archive)
        for name in ["../escape.bin", "/abs.bin", "pkg/../../escape.bin", "pkg/./ok.bin", "pkg//ok.bin", "", "pkg\\..\\x"] {
            let reason = corruptReason { _ = try wheel.member(named: name) }
            XCTAssertTrue(reason.contains("refusing member"), "\(name): \(reason)")
        }
        XCTAssertTrue(corruptReason { _ = try wheel.member(named: "pkg/link.bin") }.contains("symbolic link"))
        XCTAssertTrue(corruptReason { _ = try wheel.member(named: "pkg/dir/") }.contains("refusing member"))
        XCTAssertEqual(try extract(archive, "pkg/ok.bin"), Array("fine".utf8))
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/../escape.bin"))
    }

    /// Compression methods other than stored and deflate are a named error.
    func testUnsupportedCompressionIsAnError() throws {
        let archive = dir + "/bz2.whl"
        _ = try ModelStoreTestSupport.python("""
            import sys, zipfile
            with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_BZIP2) as z:
                z.writestr('pkg/data.bin', b'hello' * 100)
            """, [archive])
        let reason = corruptReason { _ = try extract(archive, "pkg/data.bin") }
        XCTAssertTrue(reason.contains("unsupported compression method"), reason)
    }

    func testDamagedArchivesAreErrors() throws {
        let notZip = try write([UInt8](repeating: 0x41, count: 5000), "not.zip")
        XCTAssertTrue(corruptReason { _ = try WheelArchive(path: notZip) }.contains("end-of-central-directory"))
        let tiny = try write([0x50, 0x4b], "tiny.zip")
        XCTAssertTrue(corruptReason { _ = try WheelArchive(path: tiny) }.contains("end-of-central-directory"))
        XCTAssertTrue(corruptReason { _ = try WheelArchive(path: dir + "/missing.zip") }.contains("cannot open"))
        XCTAssertTrue(corruptReason { _ = try WheelArchive(path: dir) }.contains("not a regular file"))

        let content = ModelStoreTestSupport.randomBytes(5000, seed: 1)
        let (_, original) = try singleEntryArchive(content)
        // Every strict prefix (a download cut short) is refused at open or at extraction;
        // none may yield data.
        for cut in stride(from: 0, to: original.count, by: 7) {
            let path = try write(Array(original[0..<cut]), "cut.zip")
            let reason = corruptReason { _ = try extract(path, "pkg/data.bin") }
            XCTAssertFalse(reason == "accepted" || reason.hasPrefix("other error"), "cut at \(cut): \(reason)")
        }
        // Point the central directory offset past the end of the file: no entry can be read.
        var badOffset = original
        let eocd = original.count - 22
        badOffset[eocd + 16] = 0xFF
        badOffset[eocd + 17] = 0xFF
        badOffset[eocd + 18] = 0xFF
        let offsetPath = try write(badOffset, "offset.zip")
        XCTAssertTrue(corruptReason { _ = try WheelArchive(path: offsetPath).member(named: "pkg/data.bin") }
            .contains("no readable entries"))
        // Claim an absurd entry count: ZIPFoundation stops at the first record that is not
        // one, so this must neither crash nor list phantom entries, and the real entry still
        // extracts exactly (its own CRC and size are checked).
        var badCount = original
        badCount[eocd + 10] = 0xFF
        badCount[eocd + 11] = 0x7F
        let countPath = try write(badCount, "count.zip")
        XCTAssertEqual(try WheelArchive(path: countPath).memberNames(), ["pkg/data.bin"])
        XCTAssertEqual(try extract(countPath, "pkg/data.bin"), content)
    }
}
