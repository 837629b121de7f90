import Foundation
import XCTest
@testable import LoomFormats

final class SHA256Tests: XCTestCase {
    // FIPS 180-4 / NIST CSRC example vectors.
    func testNISTVectors() {
        XCTAssertEqual(SHA256.hash([]).hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hash(Array("abc".utf8)).hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(
            SHA256.hash(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)).hex,
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        XCTAssertEqual(
            SHA256.hash(Array(("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
                               + "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu").utf8)).hex,
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1")
    }

    func testOneMillionA() {
        XCTAssertEqual(
            SHA256.hash([UInt8](repeating: 0x61, count: 1_000_000)).hex,
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// One million 'a' fed in uneven pieces must give the same digest as in one piece.
    func testStreamingInUnevenPieces() {
        let message = [UInt8](repeating: 0x61, count: 1_000_000)
        var hasher = SHA256()
        var offset = 0
        var step = 1
        while offset < message.count {
            let n = min(step, message.count - offset)
            hasher.update(Array(message[offset..<(offset + n)]))
            offset += n
            step = step * 7 % 1000 + 1
        }
        XCTAssertEqual(hasher.finalize().hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// Every length around the padding boundaries (55/56/63/64 bytes …), against Python's hashlib.
    func testPaddingBoundariesMatchHashlib() throws {
        let data = ModelStoreTestSupport.randomBytes(300, seed: 11)
        let dir = try ModelStoreTestSupport.temporaryDirectory("sha")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/data.bin"
        try Data(data).write(to: URL(fileURLWithPath: file))
        let expected = try ModelStoreTestSupport.python("""
            import hashlib, sys
            d = open(sys.argv[1], 'rb').read()
            for n in range(len(d) + 1):
                print(hashlib.sha256(d[:n]).hexdigest())
            """, [file]).split(separator: "\n").map(String.init)
        XCTAssertEqual(expected.count, data.count + 1)
        for n in 0...data.count {
            XCTAssertEqual(SHA256.hash(Array(data[0..<n])).hex, expected[n], "length \(n)")
        }
    }

    /// A file spanning several hashing slices, with an odd length, against hashlib; progress
    /// must be reported per slice and end at the file size.
    func testMultiSliceFileMatchesHashlib() throws {
        let dir = try ModelStoreTestSupport.temporaryDirectory("sha")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/big.bin"
        let size = 3 * 1024 * 1024 + 17
        try Data(ModelStoreTestSupport.randomBytes(size, seed: 3)).write(to: URL(fileURLWithPath: file))
        var reports: [Int64] = []
        let digest = try SHA256.hash(fileAt: file, sliceBytes: 1 << 20) { reports.append($0) }
        XCTAssertEqual(digest.hex, try ModelStoreTestSupport.pythonSHA256(ofFile: file))
        XCTAssertEqual(reports, [1 << 20, 2 << 20, 3 << 20, Int64(size)])
        // The public entry point (16 MB slices) agrees.
        XCTAssertEqual(try SHA256.hash(fileAt: file), digest)
    }

    func testEmptyFileAndErrors() throws {
        let dir = try ModelStoreTestSupport.temporaryDirectory("sha")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let empty = dir + "/empty"
        XCTAssertTrue(FileManager.default.createFile(atPath: empty, contents: Data()))
        XCTAssertEqual(try SHA256.hash(fileAt: empty).hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertThrowsError(try SHA256.hash(fileAt: dir + "/missing")) { error in
            XCTAssertTrue("\(error)".contains("missing"), "\(error)")
        }
        XCTAssertThrowsError(try SHA256.hash(fileAt: dir)) { error in
            XCTAssertTrue("\(error)".contains("not a regular file"), "\(error)")
        }
    }

    func testDigestHexAndEquality() {
        let a = SHA256.hash(Array("abc".utf8))
        XCTAssertEqual(a.bytes.count, 32)
        XCTAssertEqual(a.bytes.first, 0xba)
        XCTAssertEqual(a.bytes.last, 0xad)
        XCTAssertEqual(a.description, a.hex)
        XCTAssertNotEqual(a, SHA256.hash(Array("abd".utf8)))
    }
}
