import XCTest
@testable import LoomTraining

/// `FineTuneConfig`: validation names bad values, layer/target parsing, step arithmetic.
final class FineTuneConfigTests: XCTestCase {
    private func message(_ body: () throws -> Void) -> String {
        do {
            try body()
            return "no error"
        } catch {
            return "\(error)"
        }
    }

    func testDefaultsValidate() throws {
        try FineTuneConfig().validate()
    }

    func testValidateNamesEachBadValue() {
        let cases: [(String, (inout FineTuneConfig) -> Void)] = [
            ("--lora-r must be ≥ 1, got 0", { $0.loraRank = 0 }),
            ("--lora-alpha must be a finite number, got nan", { $0.loraAlpha = .nan }),
            ("--lora-alpha must be > 0, got -1.0", { $0.loraAlpha = -1 }),
            ("--lora-dropout must be in [0, 1), got 1.0", { $0.loraDropout = 1 }),
            ("--lr must be a finite number, got inf", { $0.learningRate = .infinity }),
            ("--lr must be > 0, got 0.0", { $0.learningRate = 0 }),
            ("--weight-decay must be ≥ 0, got -0.1", { $0.weightDecay = -0.1 }),
            ("--betas: β2 must be in [0, 1), got 1.0", { $0.betas = (0.9, 1) }),
            ("--betas β1 must be a finite number, got nan", { $0.betas = (.nan, 0.9) }),
            ("--eps must be > 0, got 0.0", { $0.epsilon = 0 }),
            ("--warmup steps must be ≥ 0, got -3", { $0.warmup = .steps(-3) }),
            ("--warmup ratio must be in [0, 1), got 1.5", { $0.warmup = .ratio(1.5) }),
            ("--max-grad-norm must be a finite number, got nan", { $0.maxGradNorm = .nan }),
            ("--epochs must be > 0, got 0.0", { $0.epochs = 0 }),
            ("--max-steps must be ≥ 1, got 0", { $0.maxSteps = 0 }),
            ("--batch-size must be ≥ 1, got 0", { $0.batchSize = 0 }),
            ("--grad-accum must be ≥ 1, got -2", { $0.gradientAccumulation = -2 }),
            ("--cutoff-len must be ≥ 2 (one input and one target token), got 1", { $0.cutoffLength = 1 }),
            ("--target names no module", { $0.targets = .modules([]) }),
            ("--val-split fraction must be in (0, 1), got 1.0", { $0.validationSplit = .fraction(1) }),
            ("--val-split count must be ≥ 1, got 0", { $0.validationSplit = .count(0) }),
            ("--eval-steps must be ≥ 1, got 0", { $0.evalSteps = 0 }),
        ]
        for (expected, change) in cases {
            var config = FineTuneConfig()
            change(&config)
            XCTAssertEqual(message { try config.validate() }, "invalid training parameter: " + expected)
        }
        // max-steps overrides epochs, so a bad epoch count is then irrelevant.
        var config = FineTuneConfig()
        config.maxSteps = 5
        config.epochs = .nan
        XCTAssertNoThrow(try config.validate())
    }

    func testLayerSelections() throws {
        XCTAssertEqual(try FineTuneConfig.LayerSelection(parsing: "0-11").resolve(layerCount: 30), Array(0...11))
        XCTAssertEqual(try FineTuneConfig.LayerSelection(parsing: "even").resolve(layerCount: 7), [0, 2, 4, 6])
        XCTAssertEqual(try FineTuneConfig.LayerSelection(parsing: "odd").resolve(layerCount: 7), [1, 3, 5])
        XCTAssertEqual(try FineTuneConfig.LayerSelection(parsing: " 1, 3,5 ").resolve(layerCount: 6), [1, 3, 5])
        XCTAssertEqual(try FineTuneConfig.LayerSelection(parsing: "5,0-2,1").resolve(layerCount: 6), [0, 1, 2, 5])
        XCTAssertEqual(try FineTuneConfig.LayerSelection(parsing: "ALL").resolve(layerCount: 3), [0, 1, 2])
        XCTAssertEqual(try FineTuneConfig.LayerSelection.all.resolve(layerCount: 2), [0, 1])
        XCTAssertEqual(try FineTuneConfig.LayerSelection(parsing: "0-3,20-23").spec, "0-3,20-23")

        func parseError(_ spec: String) -> String { message { _ = try FineTuneConfig.LayerSelection(parsing: spec) } }
        XCTAssertEqual(parseError(""), "invalid layer selection \"\": it is empty (use all, even, odd, N, A-B or a comma-separated list)")
        XCTAssertEqual(parseError("1,,2"), "invalid layer selection \"1,,2\": an empty item between commas")
        XCTAssertEqual(parseError("first"), "invalid layer selection \"first\": \"first\" is not all, even, odd, a layer index or a range A-B")
        XCTAssertEqual(parseError("5-2"), "invalid layer selection \"5-2\": range 5-2 runs backwards")
        XCTAssertEqual(parseError("-1"), "invalid layer selection \"-1\": \"-1\" is not all, even, odd, a layer index or a range A-B")
        XCTAssertEqual(parseError("1-2-3"), "invalid layer selection \"1-2-3\": \"1-2-3\" is not all, even, odd, a layer index or a range A-B")

        func resolveError(_ spec: String, _ count: Int) -> String {
            message { _ = try FineTuneConfig.LayerSelection(parsing: spec).resolve(layerCount: count) }
        }
        XCTAssertEqual(resolveError("0-11", 6), "invalid layer selection \"0-11\": range 0-11 is past the last layer (the model has 6 layers, 0-5)")
        XCTAssertEqual(resolveError("6", 6), "invalid layer selection \"6\": layer 6 is past the last layer (the model has 6 layers, 0-5)")
        XCTAssertEqual(resolveError("odd", 1), "invalid layer selection \"odd\": selects no layer of a 1-layer model")
        XCTAssertEqual(resolveError("all", 0), "invalid layer selection \"all\": the model has no layers")
    }

    func testTargets() throws {
        XCTAssertEqual(try FineTuneConfig.LoRATargets(parsing: "all-linear"), .allLinear)
        XCTAssertEqual(try FineTuneConfig.LoRATargets(parsing: "all"), .allLinear)
        XCTAssertEqual(try FineTuneConfig.LoRATargets(parsing: "q_proj, v_proj"), .modules(["q_proj", "v_proj"]))
        XCTAssertEqual(FineTuneConfig.LoRATargets.allLinear.moduleNames.count, 7)
        XCTAssertEqual(FineTuneConfig.LoRATargets.modules(["q_proj", "v_proj"]).description, "q_proj,v_proj")
        XCTAssertEqual(message { _ = try FineTuneConfig.LoRATargets(parsing: "q_proj,attn") },
                       "invalid training parameter: --target: \"attn\" is not a decoder projection (use all-linear or some of q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj)")
        XCTAssertEqual(message { _ = try FineTuneConfig.LoRATargets(parsing: "q_proj,q_proj") },
                       "invalid training parameter: --target: q_proj is listed twice")
    }

    /// Step counts as transformers' Trainer computes them (5.x: a last partial accumulation
    /// group is an optimiser step), warm-up ratio rounded up.
    func testStepsAndSchedule() throws {
        var config = FineTuneConfig()
        config.batchSize = 2
        config.gradientAccumulation = 4
        config.epochs = 3
        // 100 examples → 50 micro-batches → ⌈50/4⌉ = 13 updates per epoch → 39 steps.
        XCTAssertEqual(try config.optimizerSteps(exampleCount: 100), 39)
        // 1 example still makes one step per epoch.
        XCTAssertEqual(try config.optimizerSteps(exampleCount: 1), 3)
        config.epochs = 1.5
        XCTAssertEqual(try config.optimizerSteps(exampleCount: 100), 20)  // ⌈1.5 × 13⌉
        config.warmup = .ratio(0.1)
        XCTAssertEqual(config.warmupSteps(totalSteps: 20), 2)
        XCTAssertEqual(config.warmupSteps(totalSteps: 21), 3)  // ⌈2.1⌉
        config.maxSteps = 7
        config.warmup = .steps(2)
        let schedule = try config.schedule(exampleCount: 100)
        XCTAssertEqual(schedule.totalSteps, 7)
        XCTAssertEqual(schedule.warmupSteps, 2)
        XCTAssertEqual(schedule.kind, .cosine)
        XCTAssertEqual(schedule.peak, 1e-4)
        XCTAssertThrowsError(try config.optimizerSteps(exampleCount: 0))
    }

    func testScaling() {
        var config = FineTuneConfig()
        config.loraRank = 16
        config.loraAlpha = 32
        XCTAssertEqual(config.loraScaling, 2)
        config.useRSLoRA = true
        XCTAssertEqual(config.loraScaling, 8)
    }
}
