import Crypto
import Foundation
import XCTest
@testable import LoomHub

/// File checksums as the cache verifies them: swift-crypto's SHA-256 streamed over a file in
/// chunks, against published vectors and Python's hashlib.
final class FileChecksumTests: XCTestCase {
    private var dir = ""

    override func setUpWithError() throws {
        dir = try ModelStoreTestSupport.temporaryDirectory("sha")
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: dir)
    }

    private func file(_ name: String, _ bytes: [UInt8]) throws -> String {
        let path = dir + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    // FIPS 180-4 / NIST CSRC example vectors, hashed from files.
    func testKnownDigestsOfFiles() throws {
        XCTAssertEqual(try FileChecksum.sha256(ofFile: file("empty", [])),
                       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(try FileChecksum.sha256(ofFile: file("abc", Array("abc".utf8))),
                       "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(
            try FileChecksum.sha256(ofFile: file("two-block", Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        // One million 'a' in 4 KiB chunks: the streaming must not change the digest.
        let million = try file("million", [UInt8](repeating: 0x61, count: 1_000_000))
        var reports: [Int64] = []
        XCTAssertEqual(try FileChecksum.sha256(ofFile: million, chunkBytes: 4096) { reports.append($0) },
                       "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        XCTAssertEqual(reports.count, (1_000_000 + 4095) / 4096)
        XCTAssertEqual(reports.last, 1_000_000)
    }

    /// A file spanning several chunks, with an odd length, against hashlib; progress must be
    /// reported per chunk and end at the file size.
    func testMultiChunkFileMatchesHashlib() throws {
        let size = 3 * 1024 * 1024 + 17
        let path = try file("big.bin", ModelStoreTestSupport.randomBytes(size, seed: 3))
        var reports: [Int64] = []
        let digest = try FileChecksum.sha256(ofFile: path, chunkBytes: 1 << 20) { reports.append($0) }
        XCTAssertEqual(digest, try ModelStoreTestSupport.pythonSHA256(ofFile: path))
        XCTAssertEqual(reports, [1 << 20, 2 << 20, 3 << 20, Int64(size)])
        // The default chunk size agrees.
        XCTAssertEqual(try FileChecksum.sha256(ofFile: path), digest)
    }

    func testMissingFilesAndDirectoriesAreErrors() throws {
        XCTAssertThrowsError(try FileChecksum.sha256(ofFile: dir + "/missing")) { error in
            XCTAssertTrue("\(error)".contains("missing"), "\(error)")
            XCTAssertTrue("\(error)".contains("cannot open for hashing"), "\(error)")
        }
        XCTAssertThrowsError(try FileChecksum.sha256(ofFile: dir)) { error in
            XCTAssertTrue("\(error)".contains("not a regular file"), "\(error)")
        }
    }

    /// `hex` is lower-case, two digits per byte, and the same text as the file checksum.
    func testDigestHex() throws {
        let digest = SHA256.hash(data: Array("abc".utf8))
        XCTAssertEqual(digest.hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hash(data: [UInt8]([0x00])).hex.prefix(4), "6e34")
        XCTAssertNotEqual(digest.hex, SHA256.hash(data: Array("abd".utf8)).hex)
    }
}
