import XCTest
@testable import LoomServer

final class LoomServerModuleTests: XCTestCase {
    func testModuleLinks() { XCTAssertNotNil(LoomServer.self as Any.Type?) }
}
