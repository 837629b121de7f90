import ArgumentParser
import Foundation
import LoomFormats
import LoomKernels
import LoomModels
import LoomTraining

/// `loom finetune --qat ternary`: quantisation-aware full-weight training (issue #24 item 4).
extension FinetuneCommand {
    /// The flags `--qat` refuses, by name: LoRA's, and what QAT does not implement yet.
    func validateQAT() throws {
        guard let qat else {
            if qatWarmupSteps != nil { throw ValidationError("--qat-warmup-steps needs --qat ternary") }
            return
        }
        guard QATSettings.Target(rawValue: qat) != nil else {
            throw ValidationError("--qat must be \(QATSettings.Target.allCases.map(\.rawValue).joined(separator: ", ")), got '\(qat)'")
        }
        if let qatWarmupSteps, qatWarmupSteps < 0 { throw ValidationError("--qat-warmup-steps must be ≥ 0, got \(qatWarmupSteps)") }
        guard QATModelWriter.Content(rawValue: qatExport) != nil else {
            throw ValidationError("--qat-export must be \(QATModelWriter.Content.allCases.map(\.rawValue).joined(separator: " or ")), got '\(qatExport)'")
        }
        let lora: [(String, Bool)] = [("--lora-r", hyper.loraRank != nil), ("--lora-alpha", hyper.loraAlpha != nil),
                                      ("--lora-dropout", hyper.loraDropout != nil), ("--use-rslora", hyper.useRSLoRA),
                                      ("--train-norms", hyper.trainNorms)]
        if let flag = lora.first(where: \.1)?.0 {
            throw ValidationError("\(flag) is a LoRA setting; --qat trains the projections' full weights (no adapter)")
        }
        if let precision = hyper.precision, precision != "f32" {
            throw ValidationError("--qat runs in f32 only (--precision \(precision) is not implemented for QAT)")
        }
        if !export.isEmpty { throw ValidationError("--export is not implemented for --qat (LLaMA-Factory has no BitNet QAT recipe)") }
    }

    func trainQAT(config: FineTuneConfig, model: LanguageModel, modelPath: String, examples: [TrainingExample],
                  validation: [TrainingExample], output: String) throws {
        // The output is the base GGUF with the trained tensors replaced: refuse other bases
        // before spending any time on training.
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: modelPath, isDirectory: &isDirectory), !isDirectory.boolValue,
              let base = try? GGUFFile(path: modelPath) else {
            throw ValidationError("--qat writes a GGUF model and needs a GGUF base; \(modelPath) is not one (convert it with `loom convert`)")
        }
        let tokenizer = try ConversationTokenizer(model: model, date: Self.templateDate)
        let builder = try TrainingDataBuilder(tokenizer: tokenizer, config: config)
        let (sequences, report) = try builder.build(examples)
        StandardError.print("data: \(report)")
        var validationSequences: [TrainingSequence] = []
        if !validation.isEmpty {
            let (built, validationReport) = try builder.build(validation)
            validationSequences = built
            StandardError.print("validation: \(validationReport)")
        }
        let pool = ThreadPool(threadCount: threads ?? ThreadPool.availableProcessors)
        let run = try QATRun(model: model, config: config, warmupSteps: qatWarmupSteps ?? 0, sequences: sequences,
                             validation: validationSequences, gradientCheckpointing: gradientCheckpointing,
                             options: .init(saveSteps: saveSteps, checkpointDirectory: output, saveTotalLimit: saveTotalLimit), pool: pool)
        do {
            try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        } catch {
            throw ValidationError("cannot create \(output): \(error.localizedDescription)")
        }
        let parameters = run.trainer.projections.reduce(0) { $0 + $1.latent.count }
        StandardError.print("QAT ternary: \(run.trainer.projections.count) projections, \(parameters) latent weights, λ warm-up \(qatWarmupSteps ?? 0) steps")
        // Before training: the base (λ = 0: the latent weights are the base's) and the base
        // ternarised as it is (λ = 1).
        var eval = QATEvaluation()
        if !validationSequences.isEmpty {
            eval.base = try run.evaluationLoss(lambda: 0)
            eval.untrained = try run.evaluationLoss(lambda: 1)
            StandardError.print(String(format: "held-out loss: base %.4f (ppl %.2f), ternary before training %.4f (ppl %.2f)",
                                       eval.base!, exp(eval.base!), eval.untrained!, exp(eval.untrained!)))
        }
        // After the evaluations above, which need the untouched latent copy of the base.
        if let resume {
            let checkpoint = try FineTuneRun.checkpointDirectory(resuming: resume)
            try run.resume(from: checkpoint)
            StandardError.print("resumed from \(checkpoint) at step \(run.step) of \(run.totalSteps)")
        }
        let logPath = (output as NSString).appendingPathComponent("train_log.jsonl")
        let log = try TrainingLogWriter(path: logPath, resumingAfter: resume != nil ? run.step : nil)
        let startStep = run.step
        let progress = FinetuneProgressLine(isTTY: isatty(2) != 0)
        var logError: Error?
        run.onStep = { p, lambda in
            do { try log.append(p.logEntry) } catch { logError = logError ?? error }
            progress.update(p, startStep: startStep)
            if let evalLoss = p.evalLoss {
                progress.note(String(format: "step %d: λ %.3f, train loss %.4f, held-out loss (λ = 1) %.4f", p.step, lambda, p.loss, evalLoss))
            }
        }
        run.onCheckpoint = { path in progress.note("saved \(path)") }
        let interrupt = FinetuneInterrupt.installed()
        run.shouldStop = { interrupt.isSet }
        StandardError.print("training \(run.totalSteps) steps (\(run.stepsPerEpoch) per epoch) on \(sequences.count) sequences, \(pool.threadCount) threads")
        do {
            try run.run()
        } catch {
            progress.finish()
            writeLossCurve(log: logPath, output: output)
            throw error
        }
        progress.finish()
        if let logError { throw logError }
        eval.steps = run.step
        eval.finalLambda = run.trainer.settings.lambda(afterSteps: max(0, run.step - 1))
        if !validationSequences.isEmpty {
            eval.trained = try run.evaluationLoss(lambda: 1)
        }
        let modelOut = (output as NSString).appendingPathComponent("model.gguf")
        let content = QATModelWriter.Content(rawValue: qatExport)!   // checked in validateQAT
        let written = try QATModelWriter(type: .f32, content: content).write(base: base, projections: run.trainer.projections, to: modelOut)
        try eval.write(to: (output as NSString).appendingPathComponent("qat_eval.json"))
        writeLossCurve(log: logPath, output: output)
        if let b = eval.base, let u = eval.untrained, let t = eval.trained {
            StandardError.print(String(format: "held-out perplexity: base %.2f, ternary untrained %.2f, ternary after %d QAT steps %.2f",
                                       exp(b), exp(u), run.step, exp(t)))
            if eval.finalLambda < 1 {
                StandardError.print(String(format: "note: the warm-up ended at λ %.3f < 1; the ternary model was not trained fully quantised", eval.finalLambda))
            }
        }
        if run.step < run.totalSteps, interrupt.isSet {
            let path = (output as NSString).appendingPathComponent("checkpoint-\(run.step)")
            if run.lastCheckpoint != path { try run.saveCheckpoint(to: path) }
            if let saveTotalLimit { try FineTuneRun.pruneCheckpoints(in: output, keeping: saveTotalLimit) }
            StandardError.print("interrupted at step \(run.step) of \(run.totalSteps); saved \(path) and wrote \(modelOut) with the weights so far (continue with --resume \(output))")
            throw ExitCode(130)
        }
        let what = content == .latent ? "F32 latent weights" : "their ternary values Q(W) as F32"
        print("trained \(run.step) QAT steps; model: \(modelOut) (\(written.count) tensors with \(what))")
    }
}

/// `qat_eval.json`: the held-out losses `loom finetune --qat` measured (mean cross-entropy
/// per trained token; perplexity = e^loss).
struct QATEvaluation: Encodable {
    /// The base model (λ = 0 on the untouched latent copy).
    var base: Double?
    /// The base ternarised without training (λ = 1, zero steps).
    var untrained: Double?
    /// The trained latent weights ternarised (λ = 1).
    var trained: Double?
    var steps = 0
    /// λ of the last step trained.
    var finalLambda = 0.0

    func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        var object: [String: Double] = ["steps": Double(steps), "final_lambda": finalLambda]
        for (key, loss) in [("base", base), ("ternary_untrained", untrained), ("ternary_trained", trained)] {
            if let loss {
                object["\(key)_loss"] = loss
                object["\(key)_perplexity"] = exp(loss)
            }
        }
        try encoder.encode(object).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}
