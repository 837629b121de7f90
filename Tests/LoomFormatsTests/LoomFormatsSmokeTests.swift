import XCTest
@testable import LoomFormats

final class LoomFormatsSmokeTests: XCTestCase {
    func testModuleLoads() {}
}
