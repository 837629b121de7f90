import XCTest
@testable import LoomGeneration

/// Expected values come from a direct Python transcription of the reference C code
/// (prng.di.unimi.it/xoshiro256starstar.c and splitmix64.c), run with Python's unbounded ints
/// masked to 64 bits:
///   splitmix64(0): 0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4, 0x06c45d188009454f
///   xoshiro256** from state {1,2,3,4}: 11520, 0, 1509978240, 1215971899390074240, …
///   xoshiro256** seeded with splitmix64(42) ×4: 0x15780b2e0c2ec716, 0x6104d9866d113a7e, …
final class RandomGeneratorTests: XCTestCase {
    func testSplitMix64MatchesReference() {
        var g = SplitMix64(seed: 0)
        XCTAssertEqual([g.next(), g.next(), g.next()], [0xE220_A839_7B1D_CDAF, 0x6E78_9E6A_A1B9_65F4, 0x06C4_5D18_8009_454F])
    }

    func testXoshiroMatchesReference() {
        var g = Xoshiro256StarStar(state: (1, 2, 3, 4))
        let expected: [UInt64] = [11520, 0, 1_509_978_240, 1_215_971_899_390_074_240, 1_216_172_134_540_287_360, 607_988_272_756_665_600]
        XCTAssertEqual((0..<6).map { _ in g.next() }, expected)

        var seeded = Xoshiro256StarStar(seed: 42)
        XCTAssertEqual(
            (0..<4).map { _ in seeded.next() },
            [0x1578_0B2E_0C2E_C716, 0x6104_D986_6D11_3A7E, 0xAE17_5332_39E4_99A1, 0xECB8_AD47_03B3_60A1])
    }

    func testUnitDoubleIsInHalfOpenRangeAndUniform() {
        var g = Xoshiro256StarStar(seed: 7)
        let n = 100_000
        var sum = 0.0
        for _ in 0..<n {
            let u = g.nextUnitDouble()
            XCTAssert(u >= 0 && u < 1)
            sum += u
        }
        // Mean of U(0,1) has sd sqrt(1/12/n); allow 5 sd.
        XCTAssertEqual(sum / Double(n), 0.5, accuracy: 5 * (1.0 / 12 / Double(n)).squareRoot())
    }
}
