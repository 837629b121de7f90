import Foundation
import LoomFormats
import LoomHub
import LoomModels

/// Shared test helpers: the real test models and the Python-made fixtures.
enum EvalFixtures {
    static func model(_ name: String = "smollm2") throws -> LanguageModel {
        try LanguageModel(path: try ModelStore().resolve(name, progress: .silent))
    }

    static func json(_ name: String) throws -> [String: Any] {
        let url = Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: "json")!
        return try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
    }

    /// Datasets/ at the package root (tests run from the package directory or the bundle).
    static func dataset(_ name: String) throws -> String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent("Datasets").appendingPathComponent(name).path
    }
}
