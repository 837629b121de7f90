import Foundation
import XCTest
@testable import LoomData

final class PIIScrubberTests: XCTestCase {
    let scrubber = PIIScrubber()

    func testPlantedPIIIsAllRemoved() {
        let planted: [(String, PIIScrubber.Kind)] = [
            ("jane.doe+news@example.co.uk", .email), ("admin@mail-server.example.org", .email),
            ("+1 (415) 555-0132", .phone), ("415-555-0199", .phone), ("+44 20 7946 0958", .phone), ("030 1234 5678", .phone), ("01 42 68 53 00", .phone),
            ("192.168.10.254", .ipAddress), ("203.0.113.77", .ipAddress), ("2001:db8:85a3::8a2e:370:7334", .ipAddress), ("fe80::1ff:fe23:4567:890a", .ipAddress),
            ("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", .btcAddress), ("3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", .btcAddress),
            ("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", .btcAddress),
            ("bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297", .btcAddress),
            ("0x52908400098527886E0F7030069857D2E4169EE7", .ethAddress), ("0xde709f2102306220921060314715629080e2fb77", .ethAddress),
            ("sk-proj-abcDEF1234567890ghijKLMN", .secret), ("AKIAIOSFODNN7EXAMPLE", .secret), ("ghp_0123456789abcdefghijklmnopqrstuvwxyzAB", .secret),
            ("AIzaSyA1234567890abcdefghijklmnopqrstuv", .secret), ("hf_abcdefghijklmnopqrstuvwxyzABCDEF12", .secret),
            ("xoxb-1234567890-abcdefghij", .secret),
        ]
        for (value, kind) in planted {
            let text = "Contact: \(value). Thanks"
            let (scrubbed, counts) = scrubber.scrub(text)
            XCTAssertEqual(scrubbed, "Contact: \(kind.placeholder). Thanks", "\(value)")
            XCTAssertEqual(counts, [kind: 1], "\(value)")
        }
        let (assigned, counts) = scrubber.scrub("config: api_key = \"Zx81kQ0pLm2Nv7Rt5Ws3\"\nPASSWORD: hunter2hunter2hunter2x9")
        XCTAssertEqual(assigned, "config: api_key = \"<SECRET>\"\nPASSWORD: <SECRET>")
        XCTAssertEqual(counts[.secret], 2)
        let key = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----"
        XCTAssertEqual(scrubber.scrub("k: \(key) end").text, "k: <SECRET> end")
    }

    func testCleanControlTextHasNoHits() throws {
        // Prose and code with numbers, versions, dates, slices, hashes and times, but no PII.
        let control = """
        Python 3.11.2 was released on 2023-02-08; see PEP 664 and section 4.2.1.
        The list a[1::2] takes every second item, and x[::3] every third. Use ratio 16:9 at 12:30:45.
        The function returns 1234 items in 0.25 seconds (about 4936.5 per second), 1,000,000 in all.
        Commit 9fceb02d0ae598e95dc970b74767f19372d61af8 fixed issue #12345 in the 2019 release.
        The password = getpass.getpass() call reads a password; token = tokens[0] is the first token.
        A 32-byte key has 256 bits; 0x1F and 0xFF are masks; ISBN 978-3-16-148410-0 is a book.
        Version 10.0.19041.1 of the tool, the range 1990 2000 and the year 2024 are not addresses; nor is 2.7.2.2.
        Use it instead::
            logging at 2005-03-23 23:47:11,663 on AIX 5307-0747-32; bytes 00 00 00 79 00 00 00 74 00 00;
            moneyfmt(123 456 789.00), sizes 1176 1176 1063, days 10 11 12 13 14 15, and '01 012 0123 01234'.
        email me? No: write to the team at the usual place. The cost was $1,299.99 on 12/31/2024.
        """
        let (scrubbed, counts) = scrubber.scrub(control)
        XCTAssertEqual(counts, [:])
        XCTAssertEqual(scrubbed, control)
    }

    func testBech32ChecksumRejectsTypos() {
        XCTAssertTrue(PIIScrubber.isBech32Address("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"))
        XCTAssertFalse(PIIScrubber.isBech32Address("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdp"))
    }

    func testCorpusScrubCountsPerKind() throws {
        let dir = try temporaryFolder(self)
        let input = dir + "/in.jsonl"
        try write([
            DataRecord(id: "1", source: "a", text: "mail x@y.io or call +1 415 555 0132"),
            DataRecord(id: "2", source: "b", text: "nothing here"),
        ].map { $0.jsonLine + "\n" }.joined(), to: input)
        let stats = try CorpusScrubber().run(input: input, output: dir + "/out.jsonl")
        XCTAssertEqual(stats.counters["pii_email"], 1)
        XCTAssertEqual(stats.counters["pii_phone"], 1)
        XCTAssertEqual(stats.counters["documents_with_pii"], 1)
        let out = try readLines(dir + "/out.jsonl").map { try DataRecord(jsonLine: Array($0.utf8)).text }
        XCTAssertEqual(out, ["mail <EMAIL> or call <PHONE>", "nothing here"])
    }
}
