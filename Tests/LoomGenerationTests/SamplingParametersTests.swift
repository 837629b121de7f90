import Foundation
import XCTest
@testable import LoomGeneration

final class SamplingParametersTests: XCTestCase {
    func testDefaultsAreLlamaCppDefaults() throws {
        let p = SamplingParameters()
        XCTAssertEqual(p.temperature, 0.8)
        XCTAssertEqual(p.topK, 40)
        XCTAssertEqual(p.topP, 0.95)
        XCTAssertEqual(p.minP, 0.05)
        XCTAssertEqual(p.repetitionPenalty, 1)
        XCTAssertEqual(p.presencePenalty, 0)
        XCTAssertEqual(p.frequencyPenalty, 0)
        XCTAssertEqual(p.penaltyLastN, 64)
        XCTAssertNil(p.seed)
        XCTAssertEqual(p.logitBias, [:])
        XCTAssertEqual(try p.validated(), p)
        XCTAssertEqual(SamplingParameters.greedy.temperature, 0)
        XCTAssertNoThrow(try SamplingParameters.greedy.validated())
    }

    /// Each bad value must be rejected with an error naming exactly its field.
    func testValidationNamesEachBadField() {
        var cases: [(String, SamplingParameters)] = []
        func bad(_ field: String, _ change: (inout SamplingParameters) -> Void) {
            var p = SamplingParameters()
            change(&p)
            cases.append((field, p))
        }
        bad("temperature") { $0.temperature = -0.1 }
        bad("temperature") { $0.temperature = .nan }
        bad("temperature") { $0.temperature = .infinity }
        bad("topK") { $0.topK = -2 }
        bad("topP") { $0.topP = 0 }
        bad("topP") { $0.topP = -0.5 }
        bad("topP") { $0.topP = 1.0001 }
        bad("topP") { $0.topP = .nan }
        bad("minP") { $0.minP = -0.01 }
        bad("minP") { $0.minP = 1.5 }
        bad("minP") { $0.minP = .nan }
        bad("repetitionPenalty") { $0.repetitionPenalty = 0 }
        bad("repetitionPenalty") { $0.repetitionPenalty = -1 }
        bad("repetitionPenalty") { $0.repetitionPenalty = .nan }
        bad("repetitionPenalty") { $0.repetitionPenalty = .infinity }
        bad("presencePenalty") { $0.presencePenalty = .nan }
        bad("frequencyPenalty") { $0.frequencyPenalty = -.infinity }
        bad("penaltyLastN") { $0.penaltyLastN = -2 }
        bad("logitBias") { $0.logitBias = [3: .nan] }
        bad("logitBias") { $0.logitBias = [-1: 1] }
        for (field, p) in cases {
            XCTAssertThrowsError(try p.validated(), "\(field) \(p)") { error in
                guard let e = error as? SamplingError else { return XCTFail("wrong error type \(error)") }
                XCTAssertEqual(e.field, field)
                XCTAssertTrue(e.description.contains(field), e.description)
            }
            XCTAssertThrowsError(try Sampler(parameters: p)) { error in
                XCTAssertEqual((error as? SamplingError)?.field, field)
            }
        }
    }

    func testBoundaryValuesAreAccepted() throws {
        let ok = [
            SamplingParameters(temperature: 0),
            SamplingParameters(topK: -1), SamplingParameters(topK: 0), SamplingParameters(topK: 1),
            SamplingParameters(topP: 1), SamplingParameters(topP: 1e-6),
            SamplingParameters(minP: 0), SamplingParameters(minP: 1),
            SamplingParameters(repetitionPenalty: 1e-3), SamplingParameters(presencePenalty: -2),
            SamplingParameters(penaltyLastN: -1), SamplingParameters(penaltyLastN: 0),
            SamplingParameters(logitBias: [0: -.infinity, 7: .infinity, 9: -100]),
        ]
        for p in ok { XCTAssertNoThrow(try p.validated(), "\(p)") }
    }

    func testVocabularyCheckOfLogitBias() throws {
        let p = SamplingParameters(logitBias: [5: 1, 12: -1, 10: 2])
        XCTAssertNoThrow(try p.validate(vocabularySize: 13))
        XCTAssertThrowsError(try p.validate(vocabularySize: 11)) { error in
            let e = error as? SamplingError
            XCTAssertEqual(e?.field, "logitBias")
            XCTAssertEqual(e?.value, "12")  // the smallest offending id, so the message is stable
        }
        XCTAssertThrowsError(try SamplingParameters(topP: 2).validate(vocabularySize: 100)) { error in
            XCTAssertEqual((error as? SamplingError)?.field, "topP")
        }
    }

    func testCodableRoundTripAndPartialDecoding() throws {
        let p = SamplingParameters(
            temperature: 0.3, topK: 7, topP: 0.5, minP: 0.1, repetitionPenalty: 1.1, presencePenalty: 0.2,
            frequencyPenalty: 0.3, penaltyLastN: -1, seed: 99, logitBias: [4: -2.5, 100: 1])
        let data = try JSONEncoder().encode(p)
        XCTAssertEqual(try JSONDecoder().decode(SamplingParameters.self, from: data), p)

        let partial = #"{"temperature": 0, "seed": 5, "logitBias": {"3": -1.5}}"#
        let decoded = try JSONDecoder().decode(SamplingParameters.self, from: Data(partial.utf8))
        var expected = SamplingParameters(temperature: 0, seed: 5)
        expected.logitBias = [3: -1.5]
        XCTAssertEqual(decoded, expected)
    }
}
