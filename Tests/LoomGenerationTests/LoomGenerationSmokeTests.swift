import XCTest
@testable import LoomGeneration

final class LoomGenerationSmokeTests: XCTestCase {
    func testModuleLoads() {}
}
