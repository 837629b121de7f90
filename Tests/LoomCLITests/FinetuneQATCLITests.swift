import Foundation
import XCTest

/// `loom finetune --qat ternary` as a user runs it, on the tiny random llama converted to GGUF
/// by `loom convert` (its tokenizer and chat template carried over): the outputs, the held-out
/// report, an exact resume, and the flags it refuses by name.
final class FinetuneQATCLITests: XCTestCase {
    func loom(_ arguments: [String]) throws -> LoomProcess.Output {
        try LoomProcess.run(arguments)
    }

    func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("loom-qat-cli-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    func testQATWritesModelReportAndResumesExactly() throws {
        let dir = try temporaryDirectory()
        // The fixture keeps its chat template in chat_template.jinja (transformers 5), which
        // the converter does not read; a copy with it in tokenizer_config.json converts with it.
        let hf = dir + "/hf"
        try FileManager.default.copyItem(atPath: FinetuneCLITests.base, toPath: hf)
        let configURL = URL(fileURLWithPath: hf + "/tokenizer_config.json")
        var config = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: configURL)) as? [String: Any])
        config["chat_template"] = try String(contentsOfFile: hf + "/chat_template.jinja", encoding: .utf8)
        try JSONSerialization.data(withJSONObject: config).write(to: configURL)
        let base = dir + "/base.gguf"
        let converted = try loom(["convert", hf, "-o", base])
        XCTAssertEqual(converted.status, 0, converted.stderr)
        let text = dir + "/train.txt"
        try (0..<12).map { "The number \($0) is followed by \($0 + 1), and then by \($0 + 2)." }.joined(separator: "\n")
            .write(toFile: text, atomically: true, encoding: .utf8)
        let common = ["finetune", "-m", base, "--text", text, "--val-split", "3", "--qat", "ternary", "--qat-warmup-steps", "2",
                      "--lr", "1e-3", "--grad-accum", "2", "--max-steps", "3", "-t", "1", "--seed", "5"]
        let straight = dir + "/straight", first = dir + "/first", resumed = dir + "/resumed"
        var r = try loom(common + ["-o", straight])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("held-out perplexity: base"), r.stderr)
        for file in ["model.gguf", "qat_eval.json", "train_log.jsonl", "loss.svg"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: straight + "/" + file), file)
        }
        let eval = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: straight + "/qat_eval.json"))) as? [String: Double])
        XCTAssertEqual(Set(eval.keys), ["steps", "final_lambda", "base_loss", "base_perplexity", "ternary_untrained_loss",
                                        "ternary_untrained_perplexity", "ternary_trained_loss", "ternary_trained_perplexity"])
        XCTAssertEqual(eval["final_lambda"], 1)
        // The written model is a loadable GGUF: loom finetune --qat starts again from it.
        r = try loom(["finetune", "-m", straight + "/model.gguf", "--text", text, "--qat", "ternary", "--max-steps", "1", "-t", "1",
                      "-o", dir + "/again"])
        XCTAssertEqual(r.status, 0, r.stderr)

        r = try loom(common + ["-o", first, "--save-steps", "2"])
        XCTAssertEqual(r.status, 0, r.stderr)
        r = try loom(common + ["-o", resumed, "--resume", first])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("resumed from \(first)/checkpoint-2 at step 2"), r.stderr)
        let last = { (path: String) throws -> String in
            try String(contentsOfFile: path + "/train_log.jsonl", encoding: .utf8).split(separator: "\n").last.map(String.init) ?? ""
        }
        // Step 3's line without tokens_per_s: loss, lr, grad_norm and eval loss bit for bit.
        let strip = { (line: String) in line.replacingOccurrences(of: #""tokens_per_s":[^,]*,"#, with: "", options: .regularExpression) }
        XCTAssertEqual(strip(try last(resumed)), strip(try last(straight)))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: resumed + "/model.gguf")),
                       try Data(contentsOf: URL(fileURLWithPath: straight + "/model.gguf")))
    }

    func testRefusalsAreNamed() throws {
        let dir = try temporaryDirectory()
        let text = dir + "/t.txt"
        try "one line of text for training\n".write(toFile: text, atomically: true, encoding: .utf8)
        let common = ["finetune", "-m", FinetuneCLITests.base, "--text", text, "-o", dir + "/out"]
        let cases: [([String], String)] = [
            (common + ["--qat", "binary"], "--qat must be ternary"),
            (common + ["--qat", "ternary", "--lora-r", "4"], "--lora-r is a LoRA setting"),
            (common + ["--qat", "ternary", "--train-norms"], "--train-norms is a LoRA setting"),
            (common + ["--qat", "ternary", "--precision", "bf16"], "--qat runs in f32 only"),
            (common + ["--qat", "ternary", "--qat-warmup-steps=-1"], "--qat-warmup-steps must be ≥ 0"),
            (common + ["--qat", "ternary", "--qat-export", "tq2"], "--qat-export must be latent or ternary"),
            (common + ["--qat-warmup-steps", "3"], "--qat-warmup-steps needs --qat ternary"),
            (common + ["--qat", "ternary"], "needs a GGUF base"),
        ]
        for (arguments, expected) in cases {
            let r = try loom(arguments)
            XCTAssertNotEqual(r.status, 0, arguments.joined(separator: " "))
            XCTAssertTrue(r.stderr.contains(expected), "\(arguments.suffix(3)): \(r.stderr)")
        }
    }
}
