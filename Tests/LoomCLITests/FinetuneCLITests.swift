import Foundation
import XCTest

/// `loom finetune` as a user runs it, on the tiny random llama of LoomModelsTests' fixtures
/// (its own tokenizer and chat template): the outputs, checkpoints and resume, the
/// LLaMA-Factory export, and bad input named on standard error.
final class FinetuneCLITests: XCTestCase {
    static let base = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("LoomModelsTests/Fixtures/hf_independent/llama_f32_untied").path

    func loom(_ arguments: [String]) throws -> LoomProcess.Output {
        try LoomProcess.run(arguments)
    }

    func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("loom-finetune-cli-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    /// An alpaca JSONL of `count` short examples.
    func dataset(_ count: Int) throws -> String {
        let path = try temporaryDirectory() + "/train.jsonl"
        let lines = (0..<count).map { i in
            #"{"instruction": "Say the number \#(i).", "input": "", "output": "The number is \#(i)."}"#
        }
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func common(_ data: String, _ out: String) -> [String] {
        ["finetune", "-m", Self.base, "--data", data, "-o", out, "--lora-r", "4", "--target", "q_proj,v_proj",
         "--lr", "5e-3", "--warmup", "1", "--batch-size", "1", "--grad-accum", "2", "-t", "1", "--seed", "5"]
    }

    func testFinetuneWritesAdapterLogCurveAndResumesExactly() throws {
        let data = try dataset(5)
        let out = try temporaryDirectory() + "/out"
        let r = try loom(common(data, out) + ["--max-steps", "4", "--save-steps", "2"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("trained 4 steps"), r.stdout)
        for file in ["adapter_config.json", "adapter_model.safetensors", "adapter.gguf", "train_log.jsonl", "loss.svg",
                     "checkpoint-2/trainer_state.json", "checkpoint-4/optimizer_state.bin"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/" + file), file)
        }
        let log = try String(contentsOfFile: out + "/train_log.jsonl", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(log.count, 4)
        // Not a terminal: no progress line.
        XCTAssertFalse(r.stderr.contains("ETA"), r.stderr)

        // Resume from the step-2 checkpoint in a copy: the log reads as the same run.
        let copy = try temporaryDirectory() + "/copy"
        try FileManager.default.copyItem(atPath: out, toPath: copy)
        try FileManager.default.removeItem(atPath: copy + "/checkpoint-4")
        let resumed = try loom(common(data, copy) + ["--max-steps", "4", "--save-steps", "2", "--resume", copy])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("resumed from \(copy)/checkpoint-2 at step 2"), resumed.stderr)
        let logAgain = try String(contentsOfFile: copy + "/train_log.jsonl", encoding: .utf8).split(separator: "\n")
        func lossField(_ line: Substring) -> String? {
            line.range(of: #""loss":[^,}]*"#, options: .regularExpression).map { String(line[$0]) }
        }
        XCTAssertEqual(logAgain.map(lossField), log.map(lossField))

        // Another learning rate cannot resume that checkpoint.
        var other = common(data, copy) + ["--max-steps", "4", "--resume", copy]
        other[other.firstIndex(of: "5e-3")!] = "1e-3"
        let mismatch = try loom(other)
        XCTAssertNotEqual(mismatch.status, 0)
        XCTAssertTrue(mismatch.stderr.contains("cannot resume") && mismatch.stderr.contains("--lr"), mismatch.stderr)
    }

    /// `--precision f16 --lora-dropout`: the run trains, logs the loss scale on every step and
    /// reports it at the end.
    func testF16WithDropoutTrainsAndLogsTheLossScale() throws {
        let data = try dataset(3)
        let out = try temporaryDirectory() + "/out"
        let r = try loom(common(data, out) + ["--max-steps", "2", "--precision", "f16", "--lora-dropout", "0.1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("f16 loss scale 65536, 0 step(s) skipped"), r.stderr)
        let log = try String(contentsOfFile: out + "/train_log.jsonl", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(log.count, 2)
        XCTAssertTrue(log.allSatisfy { $0.contains("\"loss_scale\":65536") }, "\(log)")
    }

    func testBadInputIsNamed() throws {
        let out = try temporaryDirectory() + "/out"
        let empty = try temporaryDirectory() + "/empty.jsonl"
        try "\n".write(toFile: empty, atomically: true, encoding: .utf8)
        let data = try dataset(2)
        let cases: [([String], String)] = [
            (common(empty, out), "no usable example"),
            (common(data, out) + ["--format", "csv"], "--format must be alpaca, sharegpt, messages or auto"),
            (common(data, out) + ["--precision", "f8"], "--precision must be bf16, f16 or f32"),
            (common(data, out) + ["--lr", "nan"], "--lr must be a finite number"),
            (common(data, out) + ["--lora-dropout", "1.5"], "--lora-dropout must be in [0, 1)"),
            (common(data, out) + ["--resume", out + "/none"], "not a usable checkpoint"),
            (["finetune", "-m", Self.base, "--data", data], "-o OUT is required"),
        ]
        for (arguments, expected) in cases {
            let r = try loom(arguments)
            XCTAssertNotEqual(r.status, 0, arguments.joined(separator: " "))
            XCTAssertTrue(r.stderr.contains(expected), "\(arguments.suffix(2)): \(r.stderr)")
        }
    }

    func testDivergingRunStopsAtTheNaNStepAndKeepsTheCheckpoint() throws {
        let data = try dataset(4)
        let out = try temporaryDirectory() + "/out"
        // lr 1e30: the first update throws the factors to ~1e30, the second step's loss is NaN.
        let arguments = ["finetune", "-m", Self.base, "--data", data, "-o", out, "--lora-r", "4", "--lr", "1e30", "--warmup", "0",
                         "--grad-accum", "1", "--max-steps", "5", "--save-steps", "1", "-t", "1"]
        let r = try loom(arguments)
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("the loss of step 2 is NaN") && r.stderr.contains("last good checkpoint: \(out)/checkpoint-1"), r.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/checkpoint-1/trainer_state.json"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/checkpoint-2"))
    }

    func testExportOnlyWritesLlamaFactoryRun() throws {
        let data = try dataset(3)
        let export = try temporaryDirectory() + "/lf"
        let r = try loom(["finetune", "-m", Self.base, "--data", data, "--export", "llama-factory", export,
                          "--export-template", "llama3", "--deepspeed", "3", "--offload", "--max-steps", "5"])
        XCTAssertEqual(r.status, 0, r.stderr)
        for file in ["train_lora.yaml", "data/dataset_info.json", "data/loom_sft.json", "ds_z3_offload_config.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: export + "/" + file), file)
        }
        let yaml = try String(contentsOfFile: export + "/train_lora.yaml", encoding: .utf8)
        XCTAssertTrue(yaml.contains("max_steps: 5"), yaml)
    }

    /// `kill -9` at three kinds of moment — while a checkpoint is being written, just after
    /// one was reported saved, and at an arbitrary time — loses nothing reported saved: each
    /// reported checkpoint is complete, `--resume` continues from the newest, and the resumed
    /// run ends with the same adapter, byte for byte, as a run never interrupted.
    func testKillNineLosesNothingReportedSaved() throws {
        let data = try dataset(6)
        let steps = ["--max-steps", "12", "--save-steps", "1"]
        let straight = try temporaryDirectory() + "/straight"
        let reference = try loom(common(data, straight) + steps)
        XCTAssertEqual(reference.status, 0, reference.stderr)
        let expected = try Data(contentsOf: URL(fileURLWithPath: straight + "/adapter_model.safetensors"))

        enum Moment { case duringSave, afterSaved(Int), after(TimeInterval) }
        for moment in [Moment.duringSave, .afterSaved(3), .after(0.3)] {
            let out = try temporaryDirectory() + "/out"
            let err = try temporaryDirectory() + "/stderr"
            _ = FileManager.default.createFile(atPath: err, contents: nil)
            let process = Process()
            process.executableURL = LoomProcess.executable
            process.arguments = common(data, out) + steps
            process.standardOutput = FileHandle.nullDevice
            process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: err))
            process.standardInput = FileHandle.nullDevice
            try process.run()
            let started = Date()
            func reported() -> [String] {
                ((try? String(contentsOfFile: err, encoding: .utf8)) ?? "").split(separator: "\n")
                    .filter { $0.hasPrefix("saved ") }.map { String($0.dropFirst("saved ".count)) }
            }
            func saving() -> Bool {
                ((try? FileManager.default.contentsOfDirectory(atPath: out)) ?? []).contains { $0.contains(".tmp-") }
            }
            // Poll without sleeping much: a save of this tiny adapter takes milliseconds.
            while process.isRunning, Date().timeIntervalSince(started) < 120 {
                let fire: Bool
                switch moment {
                case .duringSave: fire = saving()
                case .afterSaved(let n): fire = reported().count >= n
                case .after(let seconds): fire = Date().timeIntervalSince(started) >= seconds
                }
                if fire { break }
                usleep(200)
            }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            let saved = reported()
            for path in saved {
                for file in ["trainer_state.json", "optimizer_state.bin", "adapter_model.safetensors", "adapter_config.json"] {
                    XCTAssertTrue(FileManager.default.fileExists(atPath: path + "/" + file), "\(moment): \(path)/\(file) reported saved but missing")
                }
            }
            let resumed = try loom(common(data, out) + steps + (saved.isEmpty ? [] : ["--resume", out]))
            XCTAssertEqual(resumed.status, 0, "\(moment): \(resumed.stderr)")
            if let newest = saved.last {
                XCTAssertTrue(resumed.stderr.contains("resumed from "), resumed.stderr)
                let step = Int(newest.split(separator: "-").last!)!
                XCTAssertTrue(resumed.stderr.contains("at step \(step)") || resumed.stderr.contains("at step \(step + 1)"), resumed.stderr)
            }
            let adapter = try Data(contentsOf: URL(fileURLWithPath: out + "/adapter_model.safetensors"))
            XCTAssertEqual(adapter, expected, "\(moment): the resumed run's adapter differs from the uninterrupted run's")
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: out).filter { $0.hasPrefix(".") }
            XCTAssertEqual(leftovers, [], "\(moment): leftovers of the killed run")
        }
    }
}
