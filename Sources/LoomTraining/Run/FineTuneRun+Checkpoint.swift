import LoomModels
import Foundation

/// Checkpoints of a ``FineTuneRun``: `checkpoint-STEP/` holds
/// - `adapter_config.json`, `adapter_model.safetensors`: the adapter so far (a PEFT directory,
///   loadable with `--lora` like the final one);
/// - `optimizer_state.bin`: for every trained parameter in the trainer's order (layers, then
///   q…down, A before B; then the trained norms, if any) its values, AdamW's first and second
///   moments, as little-endian f32 —
///   the exact state, in the trainer's own row order;
/// - `trainer_state.json`: step, AdamW step, epoch, the parameters' names and sizes, the run's
///   fingerprint (model, data, hyper-parameters) and an FNV-1a hash of the state file; in f16
///   also the loss scaler's scale, growth tracker and skipped-step count.
///
/// The batch of a step and its LoRA-dropout masks depend only on the seed and the step
/// number (``batch(step:)``, ``LoRADropout``), so this is all a resumed run needs to continue
/// with bit-identical losses.
extension FineTuneRun {
    static let stateName = "trainer_state.json"
    static let optimizerStateName = "optimizer_state.bin"
    static let checkpointFormat = "loom-finetune-checkpoint-1"

    /// Every trained buffer with its name, in the trainer's parameter order.
    private var namedParameters: [(String, TrainingBuffer<Float>)] {
        trainer.factors.enumerated().flatMap { layer, modules in
            modules.keys.sorted().flatMap { m in
                [("\(layer).\(m.rawValue).lora_A", modules[m]!.a), ("\(layer).\(m.rawValue).lora_B", modules[m]!.b)]
            }
        } + trainer.norms.map { ($0.ggufName, $0.weight) }
    }

    /// Saves the run's state atomically into `path` (a directory, replaced if it exists).
    /// - Throws: ``FineTuneRunError/saveFailed(path:reason:)``; a checkpoint already at `path`
    ///   stays intact on failure.
    public func saveCheckpoint(to path: String) throws {
        let parameters = namedParameters
        for (name, buffer) in parameters where !(0..<buffer.count).allSatisfy({ buffer[$0].isFinite }) {
            throw FineTuneRunError.saveFailed(path: path, reason: "\(name) holds a NaN or infinite value after step \(step); the previous checkpoint is kept")
        }
        var state = [Float]()
        state.reserveCapacity(parameters.reduce(0) { $0 + 3 * $1.1.count })
        for (_, buffer) in parameters {
            state += buffer.array
            if let moments = trainer.optimizer.moments[ObjectIdentifier(buffer)] {
                state += moments.m.array
                state += moments.v.array
            } else {
                state += [Float](repeating: 0, count: 2 * buffer.count)
            }
        }
        let bytes = state.withUnsafeBufferPointer { Data(buffer: $0) }   // little-endian on every platform Loom runs on
        var hash = FNV1a()
        bytes.withUnsafeBytes { hash.add(bytes: $0) }
        var json: [String: Any] = [
            "format": Self.checkpointFormat,
            "step": step,
            "optimizer_step": trainer.optimizer.step,
            "epoch": Double(step) / Double(stepsPerEpoch),
            "parameters": parameters.map { ["name": $0.0, "count": $0.1.count] as [String: Any] },
            "state_bytes": bytes.count,
            "state_fnv1a": hash.hex,
            "fingerprint": fingerprint,
        ]
        if let scaler = trainer.gradScaler {
            json["loss_scale"] = scaler.scale
            json["loss_scale_growth_tracker"] = scaler.growthTracker
            json["skipped_steps"] = scaler.skippedSteps
        }
        let text: Data
        do {
            text = try JSONSerialization.data(withJSONObject: json, options: [.prettyPrinted, .sortedKeys])
        } catch {
            throw FineTuneRunError.saveFailed(path: path, reason: "\(error)")
        }
        try AtomicDirectory.write(to: path) { temporary in
            do {
                try trainer.writePEFT(to: temporary)
            } catch {
                throw FineTuneRunError.saveFailed(path: path, reason: "\(error)")
            }
            try AtomicDirectory.writeFile(bytes, to: (temporary as NSString).appendingPathComponent(Self.optimizerStateName))
            try AtomicDirectory.writeFile(text, to: (temporary as NSString).appendingPathComponent(Self.stateName))
        }
        lastCheckpoint = path
    }

    /// The checkpoint a `--resume` path names: the directory itself when it holds
    /// `trainer_state.json`, else its `checkpoint-N` subdirectory with the largest N.
    /// - Throws: ``FineTuneRunError/badCheckpoint(path:reason:)``.
    public static func checkpointDirectory(resuming path: String) throws -> String {
        let fm = FileManager.default
        if fm.fileExists(atPath: (path as NSString).appendingPathComponent(stateName)) { return path }
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw FineTuneRunError.badCheckpoint(path: path, reason: fm.fileExists(atPath: path) ? "not a directory" : "no such directory")
        }
        recoverCheckpoints(in: path)  // a run killed while replacing checkpoint-N left it aside
        guard let newest = savedCheckpoints(in: path).last else {
            throw FineTuneRunError.badCheckpoint(path: path, reason: "no \(stateName) in it nor in a checkpoint-N subdirectory")
        }
        return newest.path
    }

    /// Restores a checkpoint saved by a run of the same model, data and hyper-parameters; the
    /// next ``run(untilStep:)`` continues from its step.
    /// - Throws: ``FineTuneRunError/checkpointMismatch(path:differences:)`` naming what
    ///   differs, ``FineTuneRunError/badCheckpoint(path:reason:)`` for a damaged one.
    public func resume(from path: String) throws {
        func bad(_ reason: String) -> FineTuneRunError { .badCheckpoint(path: path, reason: reason) }
        let statePath = (path as NSString).appendingPathComponent(Self.stateName)
        guard let text = FileManager.default.contents(atPath: statePath) else { throw bad("cannot read \(Self.stateName)") }
        guard let json = try? JSONSerialization.jsonObject(with: text) as? [String: Any] else { throw bad("\(Self.stateName) is not a JSON object") }
        guard json["format"] as? String == Self.checkpointFormat else { throw bad("\(Self.stateName) is not a \(Self.checkpointFormat) state") }
        guard let saved = json["fingerprint"] as? [String: String] else { throw bad("\(Self.stateName) has no fingerprint") }
        let differences = Set(saved.keys).union(fingerprint.keys).sorted().compactMap { key -> String? in
            let theirs = saved[key] ?? "(none)", ours = fingerprint[key] ?? "(none)"
            return theirs == ours ? nil : "\(key): \(theirs) ≠ \(ours)"
        }
        guard differences.isEmpty else { throw FineTuneRunError.checkpointMismatch(path: path, differences: differences) }
        guard let savedStep = json["step"] as? Int, savedStep >= 0, savedStep <= totalSteps,
              let optimizerStep = json["optimizer_step"] as? Int, optimizerStep >= 0,
              let entries = json["parameters"] as? [[String: Any]],
              let expectedHash = json["state_fnv1a"] as? String else {
            throw bad("\(Self.stateName) lacks step, optimizer_step, parameters or state_fnv1a")
        }
        let parameters = namedParameters
        let layout = entries.map { ($0["name"] as? String ?? "?", $0["count"] as? Int ?? -1) }
        guard layout.count == parameters.count, zip(layout, parameters).allSatisfy({ $0.0 == $1.0 && $0.1 == $1.1.count }) else {
            throw bad("its trained parameters (LoRA factors and norms) do not match this run's")
        }
        let statePathBin = (path as NSString).appendingPathComponent(Self.optimizerStateName)
        guard let bytes = FileManager.default.contents(atPath: statePathBin) else { throw bad("cannot read \(Self.optimizerStateName)") }
        let expectedBytes = parameters.reduce(0) { $0 + 3 * $1.1.count } * MemoryLayout<Float>.size
        guard bytes.count == expectedBytes else {
            throw bad("\(Self.optimizerStateName) has \(bytes.count) bytes, expected \(expectedBytes)")
        }
        var hash = FNV1a()
        bytes.withUnsafeBytes { hash.add(bytes: $0) }
        guard hash.hex == expectedHash else { throw bad("\(Self.optimizerStateName) does not match its hash (damaged)") }
        var scalerState: (Double, Int, Int)?
        if trainer.gradScaler != nil {
            guard let scale = (json["loss_scale"] as? NSNumber)?.doubleValue, scale.isFinite, scale > 0,
                  let tracker = json["loss_scale_growth_tracker"] as? Int, tracker >= 0,
                  let skipped = json["skipped_steps"] as? Int, skipped >= 0 else {
                throw bad("\(Self.stateName) lacks the f16 loss scaler's loss_scale, loss_scale_growth_tracker or skipped_steps")
            }
            scalerState = (scale, tracker, skipped)
        }
        var values = [Float](repeating: 0, count: bytes.count / MemoryLayout<Float>.size)
        _ = values.withUnsafeMutableBytes { bytes.copyBytes(to: $0) }
        var offset = 0
        for (_, buffer) in parameters {
            let n = buffer.count
            for i in 0..<n { buffer[i] = values[offset + i] }
            trainer.optimizer.moments[ObjectIdentifier(buffer)] = optimizerStep > 0
                ? (TrainingBuffer(Array(values[offset + n..<offset + 2 * n])), TrainingBuffer(Array(values[offset + 2 * n..<offset + 3 * n])))
                : nil
            offset += 3 * n
        }
        if let scaler = trainer.gradScaler, let state = scalerState {
            (scaler.scale, scaler.growthTracker, scaler.skippedSteps) = state
        }
        trainer.optimizer.step = optimizerStep
        trainer.stepCount = savedStep
        lastCheckpoint = path
    }
}
