import Foundation
import XCTest
@testable import LoomTraining

/// The schedules against transformers' own (`scripts/gen_training_fixtures.py`).
final class LearningRateScheduleTests: XCTestCase {
    private struct Fixture: Decodable {
        struct Case: Decodable {
            let kind: String
            let peak: Double
            let warmup: Int
            let total: Int
            let rates: [Double]
        }
        let cases: [Case]
    }

    func testRatesEqualTransformersSchedules() throws {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/schedules", withExtension: "json"))
        let fixture = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
        XCTAssertEqual(fixture.cases.count, 12)
        for c in fixture.cases {
            let kind = try XCTUnwrap(LearningRateSchedule.Kind(rawValue: c.kind))
            let schedule = try LearningRateSchedule(kind: kind, peak: c.peak, warmupSteps: c.warmup, totalSteps: c.total)
            for (step, expected) in c.rates.enumerated() {
                XCTAssertEqual(schedule.rate(atStep: step), expected, accuracy: 1e-12 * max(1, c.peak),
                               "\(c.kind) peak \(c.peak) warm-up \(c.warmup) total \(c.total), step \(step)")
            }
        }
    }

    func testInvalidSettingsAreNamed() {
        XCTAssertThrowsError(try LearningRateSchedule(kind: .linear, peak: -1, warmupSteps: 0, totalSteps: 10)) {
            XCTAssertTrue("\($0)".contains("learning rate"), "\($0)")
        }
        XCTAssertThrowsError(try LearningRateSchedule(kind: .linear, peak: .nan, warmupSteps: 0, totalSteps: 10))
        XCTAssertThrowsError(try LearningRateSchedule(kind: .cosine, peak: 1e-4, warmupSteps: 20, totalSteps: 10)) {
            XCTAssertTrue("\($0)".contains("warm-up"), "\($0)")
        }
        XCTAssertThrowsError(try LearningRateSchedule(kind: .constant, peak: 1e-4, warmupSteps: -1, totalSteps: 10))
    }
}
