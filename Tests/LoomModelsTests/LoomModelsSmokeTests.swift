import XCTest
@testable import LoomModels

final class LoomModelsSmokeTests: XCTestCase {
    func testModuleLoads() {}
}
