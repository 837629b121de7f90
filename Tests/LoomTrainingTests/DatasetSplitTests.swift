import XCTest
@testable import LoomTraining

/// `--val-split`: sizes, determinism, file order kept, named errors.
final class DatasetSplitTests: XCTestCase {
    func testSizesAndDeterminism() throws {
        let items = Array(0..<100)
        let (train, validation) = try DatasetSplit.split(items, size: .fraction(0.1), seed: 42)
        XCTAssertEqual(validation.count, 10)
        XCTAssertEqual(train.count, 90)
        XCTAssertEqual(Set(train).union(validation), Set(items))
        XCTAssertEqual(train, train.sorted())
        XCTAssertEqual(validation, validation.sorted())
        // Same seed, same split; another seed, another one.
        XCTAssertEqual(try DatasetSplit.split(items, size: .fraction(0.1), seed: 42).validation, validation)
        XCTAssertNotEqual(try DatasetSplit.split(items, size: .fraction(0.1), seed: 43).validation, validation)
        // A fraction rounds up (HF train_test_split): 0.05 × 30 = 1.5 → 2.
        XCTAssertEqual(try DatasetSplit.split(Array(0..<30), size: .fraction(0.05), seed: 1).validation.count, 2)
        XCTAssertEqual(try DatasetSplit.split(items, size: .count(7), seed: 1).validation.count, 7)
    }

    func testParsingAndErrors() throws {
        XCTAssertEqual(try DatasetSplit.Size(parsing: "0.1"), .fraction(0.1))
        XCTAssertEqual(try DatasetSplit.Size(parsing: "200"), .count(200))
        for bad in ["0", "1.5", "-3", "x", "nan"] {
            XCTAssertThrowsError(try DatasetSplit.Size(parsing: bad), bad) { error in
                XCTAssertEqual("\(error)", "invalid training parameter: --val-split must be a fraction in (0, 1) or a whole number of examples ≥ 1, got \(bad)")
            }
        }
        XCTAssertThrowsError(try DatasetSplit.split([1, 2, 3], size: .count(3), seed: 0)) { error in
            XCTAssertEqual("\(error)", "invalid training parameter: --val-split: holding out 3 of 3 examples leaves no training example")
        }
        XCTAssertThrowsError(try DatasetSplit.split([1], size: .fraction(0.5), seed: 0))
    }
}
