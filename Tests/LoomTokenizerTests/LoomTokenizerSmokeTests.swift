import XCTest
@testable import LoomTokenizer

final class LoomTokenizerSmokeTests: XCTestCase {
    func testModuleLoads() {}
}
