import Foundation
import XCTest
@testable import LoomData

final class RecipeTests: XCTestCase {
    func testStepsChainOutputsAndOptions() throws {
        let yaml = """
        output_dir: out
        steps:
          - stage: ingest
            input: ["${DOCS}", extra.txt]
            max_file_bytes: 1000
          - stage: clean
            min_words: 20
            no_quality: true
            keep_boilerplate: false
          - stage: dedup
            threshold: 0.8
          - stage: format
            val_split: 0.1
          - stage: report
        """
        let recipe = try DataRecipe(yaml: yaml, variables: ["DOCS": "/srv/docs"])
        XCTAssertEqual(recipe.steps.map(\.stage), ["ingest", "clean", "dedup", "format", "report"])
        XCTAssertEqual(recipe.steps[0].arguments, ["/srv/docs", "extra.txt", "-o", "out/01-ingest.jsonl", "--max-file-bytes", "1000"])
        XCTAssertEqual(recipe.steps[1].arguments, ["out/01-ingest.jsonl", "-o", "out/02-clean.jsonl", "--min-words", "20", "--no-quality"])
        XCTAssertEqual(recipe.steps[2].arguments, ["out/02-clean.jsonl", "-o", "out/03-dedup.jsonl", "--threshold", "0.8"])
        // format reads the last JSONL output and gets dedup's clusters for the split.
        XCTAssertEqual(recipe.steps[3].arguments, ["out/03-dedup.jsonl", "-o", "out/04-format", "--val-split", "0.1",
                                                    "--clusters", "out/03-dedup.jsonl.clusters.jsonl"])
        // report gathers every JSONL output, in order.
        XCTAssertEqual(recipe.steps[4].arguments, ["out/01-ingest.jsonl", "out/02-clean.jsonl", "out/03-dedup.jsonl", "-o", "out/report"])
        XCTAssertEqual(recipe.steps[1].line, 6)
    }

    func testOutputDirectoryOverrideAndEnvironment() throws {
        let yaml = "output_dir: ${WORK}/a\nsteps:\n  - stage: scrub\n    input: in.jsonl\n    output: clean.jsonl\n"
        let recipe = try DataRecipe(yaml: yaml, environment: ["WORK": "/tmp/w"])
        XCTAssertEqual(recipe.outputDirectory, "/tmp/w/a")
        XCTAssertEqual(recipe.steps[0].arguments, ["in.jsonl", "-o", "clean.jsonl"])
        let moved = try DataRecipe(yaml: "steps:\n  - stage: scrub\n    input: in.jsonl\n", outputDirectory: "elsewhere")
        XCTAssertEqual(moved.steps[0].output, "elsewhere/01-scrub.jsonl")
    }

    func testErrorsNameTheProblemAndLine() {
        func message(_ yaml: String) -> String {
            do { _ = try DataRecipe(yaml: yaml, name: "r.yaml"); return "no error" } catch { return "\(error)" }
        }
        XCTAssertEqual(message("steps:\n  - stage: ingest\n    input: a\n  - stage: clena\n"),
                       "r.yaml:4: step 2: unknown stage \"clena\" (one of ingest, clean, dedup, scrub, chunk, format, report)")
        XCTAssertEqual(message("output_dir: x\nstep:\n  - stage: clean\n"),
                       "r.yaml:2: unknown key \"step\" (a recipe has output_dir, steps)")
        XCTAssertTrue(message("steps:\n  - stage: clean\n").contains("step 1 (clean) needs an input"))
        XCTAssertTrue(message("steps:\n  - stage: ingest\n    input: ${NOPE}\n").contains("r.yaml:3: step 1 (ingest): the variable ${NOPE} is not set"))
        XCTAssertTrue(message("steps:\n  - input: a\n").contains("step 1 has no \"stage\""))
        XCTAssertTrue(message("steps:\n  - stage: clean\n    input: a\n    Min Words: 3\n").contains("\"Min Words\" is not an option name"))
        XCTAssertTrue(message("steps: [\n").hasPrefix("r.yaml is not valid YAML"))
        XCTAssertTrue(message("steps: []\n").contains("the recipe has no steps"))
        XCTAssertTrue(message("steps:\n  - stage: clean\n    input: [a, b]\n").contains("reads one input, not 2"))
    }

    /// The shipped recipe parses, reads the corpus variable and runs every stage once.
    func testShippedRecipeParses() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let recipe = try DataRecipe(path: root.path + "/recipes/python-docs.yaml", variables: ["DOCS": "/usr/share/doc/python3/html"])
        XCTAssertEqual(recipe.steps.map(\.stage), ["ingest", "clean", "dedup", "scrub", "chunk", "format", "report"])
        XCTAssertEqual(recipe.steps[0].inputs, ["/usr/share/doc/python3/html"])
        XCTAssertTrue(recipe.steps[5].options.contains("--clusters"))
    }
}
