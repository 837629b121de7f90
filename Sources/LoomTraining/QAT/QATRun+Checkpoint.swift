import Foundation
import LoomModels

/// Checkpoints of a ``QATRun`` (`loom finetune --qat ternary --save-steps N`, `--resume`):
/// `checkpoint-STEP/` holds
/// - `qat_state.bin`: for every trained projection in the trainer's order (layers, then
///   q…down) its latent weight, AdamW's first and second moments, as little-endian f32 — the
///   exact state (3 × 4 bytes per latent weight: 1.3 GB for all of SmolLM2-135M);
/// - `trainer_state.json`: step, AdamW step, the projections' names and sizes, the run's
///   fingerprint (``FineTuneRun``'s, plus the QAT target and λ warm-up) and an FNV-1a hash of
///   the state file.
///
/// The batch of a step depends only on the seed and the step number, and λ only on the step,
/// so a resumed run continues with bit-identical losses. The directory layout and its
/// retention (`checkpoint-N`, `--save-total-limit`, atomic replacement) are FineTuneRun's.
extension QATRun {
    static let checkpointFormat = "loom-qat-checkpoint-1"
    static let stateFileName = "qat_state.bin"

    /// Every latent weight with its GGUF tensor name, in the trainer's order.
    private var namedParameters: [(String, TrainingBuffer<Float>)] {
        trainer.projections.map { ($0.module.ggufTensor(layer: $0.layer), $0.latent) }
    }

    /// Saves the run's state atomically into `path` (a directory, replaced if it exists).
    /// - Throws: ``FineTuneRunError/saveFailed(path:reason:)``; a checkpoint already at `path`
    ///   stays intact on failure.
    public func saveCheckpoint(to path: String) throws {
        let parameters = namedParameters
        for (name, buffer) in parameters where !(0..<buffer.count).allSatisfy({ buffer[$0].isFinite }) {
            throw FineTuneRunError.saveFailed(path: path, reason: "\(name) holds a NaN or infinite value after step \(step); the previous checkpoint is kept")
        }
        var bytes = Data(capacity: parameters.reduce(0) { $0 + 12 * $1.1.count })
        for (_, buffer) in parameters {
            bytes.append(UnsafeBufferPointer(start: buffer.pointer, count: buffer.count))
            if let moments = trainer.optimizer.moments[ObjectIdentifier(buffer)] {
                bytes.append(UnsafeBufferPointer(start: moments.m.pointer, count: buffer.count))
                bytes.append(UnsafeBufferPointer(start: moments.v.pointer, count: buffer.count))
            } else {
                bytes.append(Data(count: 8 * buffer.count))
            }
        }
        var hash = FNV1a()
        bytes.withUnsafeBytes { hash.add(bytes: $0) }
        let json: [String: Any] = [
            "format": Self.checkpointFormat,
            "step": step,
            "optimizer_step": trainer.optimizer.step,
            "epoch": Double(step) / Double(stepsPerEpoch),
            "parameters": parameters.map { ["name": $0.0, "count": $0.1.count] as [String: Any] },
            "state_bytes": bytes.count,
            "state_fnv1a": hash.hex,
            "fingerprint": fingerprint,
        ]
        let text: Data
        do {
            text = try JSONSerialization.data(withJSONObject: json, options: [.prettyPrinted, .sortedKeys])
        } catch {
            throw FineTuneRunError.saveFailed(path: path, reason: "\(error)")
        }
        try AtomicDirectory.write(to: path) { temporary in
            try AtomicDirectory.writeFile(bytes, to: (temporary as NSString).appendingPathComponent(Self.stateFileName))
            try AtomicDirectory.writeFile(text, to: (temporary as NSString).appendingPathComponent(FineTuneRun.stateName))
        }
        lastCheckpoint = path
    }

    /// Restores a checkpoint saved by a QAT run of the same model, data and hyper-parameters;
    /// the next ``run(untilStep:)`` continues from its step.
    /// - Throws: ``FineTuneRunError/checkpointMismatch(path:differences:)`` naming what
    ///   differs, ``FineTuneRunError/badCheckpoint(path:reason:)`` for a damaged one or a LoRA
    ///   checkpoint.
    public func resume(from path: String) throws {
        func bad(_ reason: String) -> FineTuneRunError { .badCheckpoint(path: path, reason: reason) }
        let statePath = (path as NSString).appendingPathComponent(FineTuneRun.stateName)
        guard let text = FileManager.default.contents(atPath: statePath) else { throw bad("cannot read \(FineTuneRun.stateName)") }
        guard let json = try? JSONSerialization.jsonObject(with: text) as? [String: Any] else {
            throw bad("\(FineTuneRun.stateName) is not a JSON object")
        }
        guard json["format"] as? String == Self.checkpointFormat else {
            throw bad("not a QAT checkpoint (\(FineTuneRun.stateName) is not a \(Self.checkpointFormat) state)")
        }
        guard let saved = json["fingerprint"] as? [String: String] else { throw bad("\(FineTuneRun.stateName) has no fingerprint") }
        let differences = Set(saved.keys).union(fingerprint.keys).sorted().compactMap { key -> String? in
            let theirs = saved[key] ?? "(none)", ours = fingerprint[key] ?? "(none)"
            return theirs == ours ? nil : "\(key): \(theirs) ≠ \(ours)"
        }
        guard differences.isEmpty else { throw FineTuneRunError.checkpointMismatch(path: path, differences: differences) }
        guard let savedStep = json["step"] as? Int, savedStep >= 0, savedStep <= totalSteps,
              let optimizerStep = json["optimizer_step"] as? Int, optimizerStep >= 0,
              let entries = json["parameters"] as? [[String: Any]],
              let expectedHash = json["state_fnv1a"] as? String else {
            throw bad("\(FineTuneRun.stateName) lacks step, optimizer_step, parameters or state_fnv1a")
        }
        let parameters = namedParameters
        let layout = entries.map { ($0["name"] as? String ?? "?", $0["count"] as? Int ?? -1) }
        guard layout.count == parameters.count, zip(layout, parameters).allSatisfy({ $0.0 == $1.0 && $0.1 == $1.1.count }) else {
            throw bad("its trained projections do not match this run's")
        }
        let binPath = (path as NSString).appendingPathComponent(Self.stateFileName)
        guard let bytes = FileManager.default.contents(atPath: binPath) else { throw bad("cannot read \(Self.stateFileName)") }
        let expectedBytes = parameters.reduce(0) { $0 + 3 * $1.1.count } * MemoryLayout<Float>.size
        guard bytes.count == expectedBytes else { throw bad("\(Self.stateFileName) has \(bytes.count) bytes, expected \(expectedBytes)") }
        var hash = FNV1a()
        bytes.withUnsafeBytes { hash.add(bytes: $0) }
        guard hash.hex == expectedHash else { throw bad("\(Self.stateFileName) does not match its hash (damaged)") }
        bytes.withUnsafeBytes { raw in
            let values = raw.bindMemory(to: Float.self)
            var offset = 0
            for (_, buffer) in parameters {
                let n = buffer.count
                buffer.pointer.update(from: values.baseAddress! + offset, count: n)
                if optimizerStep > 0 {
                    let m = TrainingBuffer<Float>(zeros: n), v = TrainingBuffer<Float>(zeros: n)
                    m.pointer.update(from: values.baseAddress! + offset + n, count: n)
                    v.pointer.update(from: values.baseAddress! + offset + 2 * n, count: n)
                    trainer.optimizer.moments[ObjectIdentifier(buffer)] = (m, v)
                } else {
                    trainer.optimizer.moments[ObjectIdentifier(buffer)] = nil
                }
                offset += 3 * n
            }
        }
        trainer.optimizer.step = optimizerStep
        trainer.stepCount = savedStep
        lastCheckpoint = path
    }
}
