import XCTest
@testable import LoomKernels

final class LoomKernelsSmokeTests: XCTestCase {
    func testModuleLoads() {}
}
