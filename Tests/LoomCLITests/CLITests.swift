import Foundation
import XCTest

/// The `loom` executable as a user runs it: output, exit codes and error messages.
final class CLITests: XCTestCase {
    typealias Output = LoomProcess.Output

    func loom(_ arguments: String..., stdin: String? = nil) throws -> Output {
        try LoomProcess.run(arguments, stdin: stdin)
    }

    func loom(_ arguments: [String], stdin: String? = nil) throws -> Output {
        try LoomProcess.run(arguments, stdin: stdin)
    }

    func testTokenizeAndDetokenizeRoundTrip() throws {
        let t = try loom("tokenize", "--json", "Hello world 42")
        XCTAssertEqual(t.status, 0, t.stderr)
        let items = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(t.stdout.utf8)) as? [[String: Any]])
        let ids = items.compactMap { $0["id"] as? Int }
        XCTAssertEqual(items.compactMap { $0["piece"] as? String }, ["Hello", "Ġworld", "Ġ", "4", "2"])
        let d = try loom(["detokenize"] + ids.map(String.init))
        XCTAssertEqual(d.status, 0, d.stderr)
        XCTAssertEqual(d.stdout, "Hello world 42\n")
    }

    func testRawGreedyRunIsDeterministicAndStopsAtMaxTokens() throws {
        let args = ["run", "--raw", "-p", "The capital of France is", "--temperature", "0", "--max-tokens", "6"]
        let a = try loom(args), b = try loom(args)
        XCTAssertEqual(a.status, 0, a.stderr)
        XCTAssertEqual(a.stdout, b.stdout)
        XCTAssertTrue(a.stdout.hasPrefix(" Paris"), a.stdout)
    }

    func testTopLogprobsPrintsJSONLines() throws {
        let r = try loom("run", "--raw", "-p", "1, 2, 3,", "--temperature", "0", "--max-tokens", "3", "--top-logprobs", "2")
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 3)
        for line in lines {
            let obj = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            XCTAssertNotNil(obj["id"] as? Int)
            XCTAssertNotNil(obj["logprob"] as? Double)
            XCTAssertEqual((obj["top"] as? [Any])?.count, 2)
        }
    }

    func testInfoDescribesTheDefaultModel() throws {
        let r = try loom("info")
        XCTAssertEqual(r.status, 0, r.stderr)
        for needle in ["architecture            llama", "layers                  30", "9 / 3, head size 64", "vocabulary              49152", "Q4_1", "pre 'smollm'"] {
            XCTAssertTrue(r.stdout.contains(needle), "missing \(needle) in\n\(r.stdout)")
        }
        // The memory plan: SmolLM2's f16 KV cache (the default) is 23 040 bytes per position,
        // ×8192 × 2 slots; f32 twice that; q8_0 keys (6 blocks of 34 bytes a layer) with f16 values 17 640 bytes.
        let plan = try loom("info", "--ctx", "8192", "--parallel", "2")
        XCTAssertEqual(plan.status, 0, plan.stderr)
        XCTAssertTrue(plan.stdout.contains("8192 positions × 2 slots") && plan.stdout.contains("KV cache 377.5 MB (f16)"), plan.stdout)
        XCTAssertFalse(plan.stdout.contains("does not fit"), plan.stdout)
        let f32 = try loom("info", "--ctx", "8192", "--parallel", "2", "-ctk", "f32", "--cache-type-v", "f32")
        XCTAssertTrue(f32.stdout.contains("KV cache 755.0 MB (f32)"), f32.stdout + f32.stderr)
        let mixed = try loom("info", "--ctx", "8192", "-ctk", "q8_0")
        XCTAssertTrue(mixed.stdout.contains("KV cache 144.5 MB (K q8_0, V f16)"), mixed.stdout + mixed.stderr)
        let unknown = try loom("info", "--ctx", "64", "-ctk", "q3_k")
        XCTAssertNotEqual(unknown.status, 0)
        XCTAssertTrue(unknown.stderr.contains("q3_k") && unknown.stderr.contains("q8_0"), unknown.stderr)
    }

    func testBadInputGivesClearErrors() throws {
        let missing = try loom("run", "-m", "/no/such/model.gguf", "-p", "hi")
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("neither an existing file nor a known model name"), missing.stderr)

        let garbage = FileManager.default.temporaryDirectory.appendingPathComponent("loom-garbage.gguf")
        try Data(repeating: 0x41, count: 100).write(to: garbage)
        let bad = try loom("info", garbage.path)
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("not a GGUF file"), bad.stderr)

        let topP = try loom("run", "-p", "hi", "--top-p", "2")
        XCTAssertNotEqual(topP.status, 0)
        XCTAssertTrue(topP.stderr.contains("topP"), topP.stderr)

        let ctx = try loom("run", "--raw", "-p", String(repeating: "word ", count: 50), "--ctx", "16")
        XCTAssertNotEqual(ctx.status, 0)
        XCTAssertTrue(ctx.stderr.contains("the context holds 16"), ctx.stderr)

        // Contexts whose KV cache overflows a 64-bit byte count (once a silent heap overflow
        // under -Ounchecked) or exceeds the machine's memory: a named error, before allocating.
        for huge in ["288230376151711744", "144115188075855873", "9223372036854775807", "100000000"] {
            let r = try loom("run", "--raw", "-p", "hi", "--ctx", huge, "--max-tokens", "1")
            XCTAssertNotEqual(r.status, 0, "--ctx \(huge)")
            XCTAssertTrue(r.stderr.contains("would need") && r.stderr.contains("bytes of memory"), "--ctx \(huge): \(r.stderr)")
        }

        // Negative numbers reach the range checks (once "Missing value for '--max-tokens'"),
        // and out-of-range values name the flag; none of these loads a model.
        let flagCases: [([String], String)] = [
            (["run", "-p", "hi", "--max-tokens", "-5"], "--max-tokens must be ≥ 0, got -5"),
            (["run", "-p", "hi", "--ctx", "-1"], "--ctx must be positive, got -1"),
            (["run", "-p", "hi", "-t", "-2"], "--threads must be between 1 and 512, got -2"),
            (["run", "-p", "hi", "--stop", ""], "--stop needs a non-empty string"),
            (["run", "-p", "hi", "--top-logprobs", "-1"], "--top-logprobs must be in 0…100, got -1"),
            (["serve", "--parallel", "-3"], "--parallel must be in 1…64, got -3"),
            (["serve", "--port", "-1"], "--port must be in 0…65535, got -1"),
            (["bench", "-p", "9223372036854775807", "-n", "1"], "-p and -n must be in 0…268435456"),
            (["bench", "-t", "100000"], "-t must be between 1 and 512, got 100000"),
            (["quantize", "a.gguf", "b.gguf", "q8_0", "-t", "-1"], "-t must be between 1 and 512, got -1"),
            (["quantize", "a.gguf", "b.gguf", "tq2_0", "--tensor-type", "blk.0.ffn_up.weight"], "--tensor-type 'blk.0.ffn_up.weight': expected NAME=TYPE"),
            (["perplexity", "-f", "x.txt", "--chunks", "-4"], "--chunks must be positive, got -4"),
            // llama.cpp's RoPE flags: conflicts and unknown kinds are named before any load,
            // on every model command.
            (["run", "-p", "hi", "--rope-scale", "2", "--rope-freq-scale", "0.5"], "--rope-scale and --rope-freq-scale set the same factor"),
            (["serve", "--rope-scaling", "ntk"], "unknown --rope-scaling 'ntk' (known: none, linear, yarn, dynamic, llama3, longrope)"),
            (["bench", "--rope-freq-scale", "2"], "--rope-freq-scale must be in (0, 1]"),
            (["perplexity", "-f", "x.txt", "--rope-scaling", "cubic"], "unknown --rope-scaling 'cubic'"),
        ]
        for (args, expected) in flagCases {
            let r = try loom(args)
            XCTAssertNotEqual(r.status, 0, "\(args)")
            XCTAssertTrue(r.stderr.contains(expected), "\(args): \(r.stderr)")
            XCTAssertFalse(r.stderr.contains("Missing value"), "\(args): \(r.stderr)")
        }

        // Flag combinations that need the model to judge: named, not silently ignored.
        let ropeCases: [([String], String)] = [
            (["run", "--raw", "-p", "hi", "--max-tokens", "1", "--yarn-beta-fast", "16"], "apply to YaRN only"),
            (["run", "--raw", "-p", "hi", "--max-tokens", "1", "--rope-scaling", "longrope"], "longrope needs the model's own per-pair factors"),
            (["run", "--raw", "-p", "hi", "--max-tokens", "1", "--rope-scaling", "none", "--rope-scale", "4"], "none conflicts with --rope-scale"),
        ]
        for (args, expected) in ropeCases {
            let r = try loom(args)
            XCTAssertNotEqual(r.status, 0, "\(args)")
            XCTAssertTrue(r.stderr.contains(expected), "\(args): \(r.stderr)")
        }
        // A context past the trained one: warned about without scaling, quiet with it.
        let long = try loom("run", "--raw", "-p", "hi", "--max-tokens", "1", "--ctx", "9000")
        XCTAssertEqual(long.status, 0, long.stderr)
        XCTAssertTrue(long.stderr.contains("exceeds") && long.stderr.contains("trained context of 8192"), long.stderr)
        let scaled = try loom("run", "--raw", "-p", "hi", "--max-tokens", "1", "--ctx", "9000",
                              "--rope-scaling", "yarn", "--rope-scale", "2", "--yarn-orig-ctx", "8192")
        XCTAssertEqual(scaled.status, 0, scaled.stderr)
        XCTAssertFalse(scaled.stderr.contains("trained context"), scaled.stderr)

        let id = try loom("detokenize", "999999")
        XCTAssertNotEqual(id.status, 0)
        XCTAssertTrue(id.stderr.contains("outside the vocabulary"), id.stderr)
    }

    /// `loom quantize` to TQ2_0 and `loom run` on the result: the default model (SmolLM2, not a
    /// ternary model, so the text is poor) runs greedy decoding on its ternary ffn_down tensors;
    /// forcing TQ2_0 on a 576-wide tensor is refused, naming it.
    func testTernaryQuantizeAndRun() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("loom-cli-tq-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let q = try loom("quantize", "smollm2", dir + "/tq2.gguf", "TQ2_0", "--allow-requantize", "-t", "2")
        XCTAssertEqual(q.status, 0, q.stderr)
        XCTAssertTrue(q.stderr.contains("TQ2_0 x30"), q.stderr)
        let r = try loom("run", "-m", dir + "/tq2.gguf", "--raw", "-p", "The capital of France is", "--temperature", "0", "--max-tokens", "8")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertFalse(r.stdout.isEmpty)
        let bad = try loom("quantize", "smollm2", dir + "/bad.gguf", "TQ2_0", "--allow-requantize", "--tensor-type", "blk.0.attn_q.weight=TQ2_0")
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("blk.0.attn_q.weight") && bad.stderr.contains("rows of 576 elements"), bad.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/bad.gguf"))
    }

    /// `loom bench` with cached context (`-d`, llama-bench's depth): one JSON object with
    /// both tests and the depth; a depth past the model's context and a negative one are
    /// refused with messages that name them.
    func testBenchWithDepthReportsJSONAndRejectsBadDepths() throws {
        let r = try loom("bench", "-p", "8", "-n", "4", "-d", "16", "-r", "1", "-t", "1", "--json")
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout)
        XCTAssertEqual(json["depth"] as? Int, 16)
        let pp = try XCTUnwrap(json["pp"] as? [String: Any]), tg = try XCTUnwrap(json["tg"] as? [String: Any])
        XCTAssertEqual(pp["tokens"] as? Int, 8)
        XCTAssertEqual(tg["tokens"] as? Int, 4)
        XCTAssertGreaterThan(try XCTUnwrap(tg["median"] as? Double), 0)

        let deep = try loom("bench", "-p", "8", "-n", "4", "-d", "100000")
        XCTAssertNotEqual(deep.status, 0)
        XCTAssertTrue(deep.stderr.contains("exceed the model's context"), deep.stderr)
        let negative = try loom("bench", "-d=-3")
        XCTAssertNotEqual(negative.status, 0)
        XCTAssertTrue(negative.stderr.contains("-d must be in 0…268435456, got -3"), negative.stderr)
    }

    /// `-v` adds the load details on standard error and changes nothing else; without it
    /// standard error has none of them.
    func testVerboseLogsLoadDetails() throws {
        let args = ["run", "--raw", "-p", "The capital of France is", "--temperature", "0", "--max-tokens", "2", "--ctx", "64", "-t", "2"]
        let quiet = try loom(args), verbose = try loom(args + ["-v"])
        XCTAssertEqual(quiet.status, 0, quiet.stderr)
        XCTAssertEqual(verbose.status, 0, verbose.stderr)
        XCTAssertEqual(verbose.stdout, quiet.stdout)
        XCTAssertFalse(quiet.stderr.contains("debug"), quiet.stderr)
        // SmolLM2-135M: 30 layers, 3 KV heads of 64; K and V in f16 (the default) for 64 positions.
        let kvBytes = 2 * 30 * 64 * 3 * 64 * 2
        for detail in ["loaded ", ".gguf", "architecture llama", "threads 2, context 64 tokens", "KV cache \(kvBytes) bytes (f16)"] {
            XCTAssertTrue(verbose.stderr.contains(detail), "\(detail) missing in: \(verbose.stderr)")
        }
    }

    func testPromptFromStandardInput() throws {
        let r = try loom("run", "--raw", "-p", "-", "--temperature", "0", "--max-tokens", "4", stdin: "The capital of France is")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix(" Paris"), r.stdout)
    }
}
