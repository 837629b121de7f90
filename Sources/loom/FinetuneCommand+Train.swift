import ArgumentParser
import Foundation
import LoomKernels
import LoomModels
import LoomTraining

extension FinetuneCommand {
    /// The date chat templates print (Llama 3.1's "Today Date"): fixed, so the token ids — and
    /// a checkpoint's data fingerprint — do not change from one day to the next. It is the
    /// default date of Llama 3.1's own template.
    static let templateDate = Date(timeIntervalSince1970: 1_721_952_000)   // 2024-07-26

    func train(config: FineTuneConfig, model: LanguageModel, examples: [TrainingExample], validation: [TrainingExample],
               output: String) throws {
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
        let run = try FineTuneRun(model: model, config: config, sequences: sequences, validation: validationSequences,
                                  options: .init(gradientCheckpointing: gradientCheckpointing, saveSteps: saveSteps, checkpointDirectory: output,
                                                 saveTotalLimit: saveTotalLimit),
                                  pool: pool)
        do {
            try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        } catch {
            throw ValidationError("cannot create \(output): \(error.localizedDescription)")
        }
        if let resume {
            let checkpoint = try FineTuneRun.checkpointDirectory(resuming: resume)
            try run.resume(from: checkpoint)
            StandardError.print("resumed from \(checkpoint) at step \(run.step) of \(run.totalSteps)")
        }
        let logPath = (output as NSString).appendingPathComponent("train_log.jsonl")
        let log = try TrainingLogWriter(path: logPath, resumingAfter: resume != nil ? run.step : nil)
        let progress = FinetuneProgressLine(isTTY: isatty(2) != 0)
        var logError: Error?
        let startStep = run.step
        run.onStep = { p in
            do { try log.append(p.logEntry) } catch { logError = logError ?? error }
            progress.update(p, startStep: startStep)
            if p.skipped, let scale = p.lossScale {
                progress.note("step \(p.step): f16 gradients overflowed at loss scale \(Int(scale)); update skipped, scale halved")
            }
        }
        run.onCheckpoint = { path in progress.note("saved \(path)") }
        // Ctrl-C: finish the step in progress, save a checkpoint, and exit 130.
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
        if run.step < run.totalSteps, interrupt.isSet {
            let path = (output as NSString).appendingPathComponent("checkpoint-\(run.step)")
            if run.lastCheckpoint != path { try run.saveCheckpoint(to: path) }
            if let saveTotalLimit { try FineTuneRun.pruneCheckpoints(in: output, keeping: saveTotalLimit) }
            StandardError.print("interrupted at step \(run.step) of \(run.totalSteps); saved \(path) (continue with --resume \(output))")
            throw ExitCode(130)
        }
        if let scaler = run.trainer.gradScaler {
            StandardError.print("f16 loss scale \(Int(scaler.scale)), \(scaler.skippedSteps) step(s) skipped for overflow")
        }
        let activation = Double(run.trainer.lastActivationBytes) / 1_048_576
        StandardError.print(String(format: "activations kept for the backward pass: %.1f MiB for the last sequence%@", activation,
                                   gradientCheckpointing ? " (--grad-checkpoint)" : ""))
        let files = try run.writeAdapter(to: output)
        if !run.trainer.norms.isEmpty {
            StandardError.print("--train-norms: wrote the PEFT directory only (no adapter.gguf: llama.cpp's GGUF LoRA cannot hold the \(run.trainer.norms.count) trained norm weights); merge it with `loom export-lora` for a GGUF")
        }
        writeLossCurve(log: logPath, output: output)
        let last = try? TrainingLogWriter.read(path: logPath).last
        let loss = last.map { String(format: "%.4f", $0.loss) } ?? "n/a"
        print("trained \(run.totalSteps) steps, final loss \(loss); adapter: \(files.joined(separator: ", "))")
    }

    /// `loss.svg` from the log (also after a failed run, for what was logged).
    func writeLossCurve(log: String, output: String) {
        guard let entries = try? TrainingLogWriter.read(path: log), !entries.isEmpty else { return }
        do {
            try LossCurveSVG(entries: entries).write(to: (output as NSString).appendingPathComponent("loss.svg"))
        } catch {
            StandardError.print("warning: cannot write loss.svg: \(error)")
        }
    }
}

/// The one-line progress display of `loom finetune` on a terminal: step, loss, learning rate,
/// tokens/s and ETA, redrawn in place; nothing when standard error is not a terminal.
final class FinetuneProgressLine {
    let isTTY: Bool
    private var drawn = false

    init(isTTY: Bool) { self.isTTY = isTTY }

    /// Draws step `p`; `startStep` is where this process started (a resumed run's ETA counts
    /// only its own steps' time).
    func update(_ p: FineTuneProgress, startStep: Int) {
        guard isTTY else { return }
        let done = p.step - startStep
        let remaining = Double(p.totalSteps - p.step) * (done > 0 ? p.elapsed / Double(done) : 0)
        var line = String(format: "step %d/%d  loss %.4f  lr %.2e  %.0f tok/s  ETA %@", p.step, p.totalSteps, p.loss,
                          p.learningRate, p.tokensPerSecond, Self.duration(remaining))
        if let eval = p.evalLoss { line += String(format: "  eval %.4f", eval) }
        FileHandle.standardError.write(Data(("\r\u{1B}[K" + line).utf8))
        drawn = true
    }

    /// A line of its own (also without a terminal: "saved checkpoint-N" lines tell a batch
    /// job's log what a `--resume` can rely on).
    func note(_ message: String) {
        finish()
        StandardError.print(message)
    }

    func finish() {
        if drawn { FileHandle.standardError.write(Data("\n".utf8)) }
        drawn = false
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}
