import Foundation

enum Fixtures {
    /// A fixture file missing from the test bundle.
    struct FixtureMissing: Error, CustomStringConvertible {
        let name: String
        var description: String { "fixture Fixtures/\(name).json is not in the test bundle" }
    }
}
