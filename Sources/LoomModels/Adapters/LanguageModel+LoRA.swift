import LoomFormats
import LoomKernels

/// An adapter attached to a ``LanguageModel``: its id (stable until detached), where it came
/// from and its scale (llama.cpp's `--lora-scaled` / `POST /lora-adapters` scale).
public struct LoRAAttachment: Sendable, Equatable {
    public let id: Int
    public let path: String
    public let scale: Float
    /// Base tensors it adapts (and norms it replaces), by GGUF name.
    public let tensorNames: [String]

    public init(id: Int, path: String, scale: Float, tensorNames: [String]) {
        self.id = id
        self.path = path
        self.scale = scale
        self.tensorNames = tensorNames
    }
}

extension LanguageModel {
    /// Reads a PEFT directory or GGUF LoRA file and attaches it with `scale`; returns its id.
    @discardableResult
    public func loadLoRA(path: String, scale: Float = 1) throws -> Int {
        let adapter = try LoRAAdapter.load(path: path, naming: config.architecture.tensorNames)
        return try attachLoRA(adapter, scale: scale)
    }

    /// Attaches `adapter` to the projections it names, unmerged (`y = W·x + scale·s·B·A·x`),
    /// without touching the base weights; returns the attachment's id. Every module is checked
    /// first — a tensor the model does not have, or a shape that differs from the base
    /// projection, is an error naming both, and nothing is attached.
    ///
    /// Q/K factors are reordered when the adapter and the base differ in row order (a PEFT
    /// adapter on a GGUF llama, whose Q/K rows llama.cpp's converter permuted; or a llama.cpp
    /// LoRA on a Hugging Face llama directory).
    ///
    /// An adapter's ``LoRAAdapter/norms`` (PEFT `modules_to_save` on the RMSNorms) replace the
    /// base's norm weights for as long as it is attached. A replaced weight cannot be scaled
    /// or turned off per request, so such an adapter is attached at scale 1 only (other scales,
    /// here, in ``setLoRAScale(id:scale:)`` or per request, are an error naming it); only one
    /// attached adapter at a time may replace norms.
    ///
    /// Call it while no session of this model is evaluating (as ``updateProjections(_:)``).
    @discardableResult
    public func attachLoRA(_ adapter: LoRAAdapter, scale: Float = 1) throws -> Int {
        guard scale.isFinite else {
            throw ModelError.invalidMetadata(key: "LoRA scale", reason: "\(scale) is not a finite number", path: adapter.path)
        }
        let arch = config.architecture
        if let adapterArch = adapter.architecture, adapterArch != arch.ggufWriteName, adapterArch != arch.name {
            throw ModelError.invalidMetadata(key: "general.architecture", reason: "the adapter is for '\(adapterArch)', the model is '\(arch.name)'", path: adapter.path)
        }
        let id = (loraAdapters.map(\.id).max() ?? -1) + 1
        // The row order of the base's Q/K weights: GGUF llama files are permuted, HF ones not.
        let ordered = adapter.reordered(to: config.ropeLayout == .adjacent ? .gguf : .huggingFace,
                                        headCount: config.headCount, kvHeadCount: config.kvHeadCount,
                                        permutesQK: arch.permutesQK)
        var planned: [(LoRATarget, LoRADelta)] = []
        for name in ordered.modules.keys.sorted() {
            let module = ordered.modules[name]!
            let targets = try LoRATarget.resolve(name, in: self, adapterPath: adapter.path)
            let rowsNeeded = targets.map(\.rows.upperBound).max() ?? 0
            let base = targets[0].projection(in: weights)
            guard base.bitLinear == nil else {
                throw ModelError.tensorType(name: name, type: "packed BitNet", reason: "LoRA adapters on BitNet (packed ternary) projections are not supported", path: path)
            }
            guard module.inputs == base.columns, module.outputs == rowsNeeded else {
                throw ModelError.tensorShape(name: "\(name) (LoRA B·A from \(adapter.path))",
                                             expected: [base.columns, rowsNeeded], actual: [module.inputs, module.outputs], path: path)
            }
            for target in targets {
                planned.append((target, LoRADelta(adapterID: id, module: module, rows: target.rows,
                                                  userScale: scale, base: target.projection(in: weights))))
            }
        }
        if !adapter.norms.isEmpty, scale != 1 {
            throw ModelError.invalidMetadata(key: "LoRA scale", reason: "\(scale): the adapter replaces norm weights (modules_to_save), which apply whole; attach it at scale 1", path: adapter.path)
        }
        if !adapter.norms.isEmpty, let other = replacedNorms.keys.sorted().first {
            throw ModelError.invalidMetadata(key: "modules_to_save", reason: "adapter \(other) already replaces the norm weights; detach it first", path: adapter.path)
        }
        for name in adapter.norms.keys.sorted() {
            guard let current = weights.norm(named: name) else {
                throw ModelError.invalidMetadata(key: "modules_to_save", reason: "\(name) is not a norm weight of this model", path: adapter.path)
            }
            guard adapter.norms[name]!.count == current.count else {
                throw ModelError.tensorShape(name: "\(name) (saved norm from \(adapter.path))", expected: [current.count],
                                             actual: [adapter.norms[name]!.count], path: path)
            }
        }
        if !adapter.norms.isEmpty {
            replacedNorms[id] = adapter.norms.keys.reduce(into: [:]) { $0[$1] = weights.norm(named: $1) }
        }
        updateProjections { w in
            for (target, delta) in planned { target.modify(&w) { $0.adapters.append(delta) } }
            for (name, values) in adapter.norms { w.setNorm(named: name, values) }
        }
        loraAdapters.append(LoRAAttachment(id: id, path: adapter.path, scale: scale, tensorNames: adapter.modules.keys.sorted() + adapter.norms.keys.sorted()))
        return id
    }

    /// Sets the scale of attachment `id` (llama.cpp's `POST /lora-adapters`); 0 turns it off.
    /// Call it while no session of this model is evaluating.
    public func setLoRAScale(id: Int, scale: Float) throws {
        try validateLoRAScales([id: scale])
        let index = loraAdapters.firstIndex { $0.id == id }!
        let old = loraAdapters[index]
        loraAdapters[index] = LoRAAttachment(id: id, path: old.path, scale: scale, tensorNames: old.tensorNames)
        forEachDelta(id: id) { $0.setUserScale(scale) }
    }

    /// Checks adapter scales chosen by id (a request's `"lora"`, `POST /lora-adapters`): every
    /// id must be attached and every scale finite; the error names the first that is not.
    public func validateLoRAScales(_ scales: [Int: Float]) throws {
        for (id, scale) in scales.sorted(by: { $0.key < $1.key }) {
            guard loraAdapters.contains(where: { $0.id == id }) else {
                throw ModelError.invalidMetadata(key: "LoRA adapter id", reason: "no adapter with id \(id) is attached", path: path)
            }
            guard scale.isFinite else {
                throw ModelError.invalidMetadata(key: "LoRA scale", reason: "\(scale) is not a finite number", path: path)
            }
            guard replacedNorms[id] == nil || scale == 1 else {
                throw ModelError.invalidMetadata(key: "LoRA scale", reason: "adapter \(id) replaces norm weights (modules_to_save), which cannot be scaled or turned off; its scale stays 1, got \(scale)", path: path)
            }
        }
    }

    /// Every attached module of adapter `id`.
    func forEachDelta(id: Int, _ body: (LoRADelta) -> Void) {
        var w = weights
        LoRATarget.forEachProjection(&w) { p in
            for case let delta as LoRADelta in p.adapters where delta.adapterID == id { body(delta) }
        }
    }

    /// Removes the adapter with `id` from every projection. Unknown ids are an error.
    public func detachLoRA(id: Int) throws {
        guard let index = loraAdapters.firstIndex(where: { $0.id == id }) else {
            throw ModelError.invalidMetadata(key: "LoRA adapter id", reason: "no adapter with id \(id) is attached", path: path)
        }
        loraAdapters.remove(at: index)
        let originals = replacedNorms.removeValue(forKey: id) ?? [:]
        updateProjections { w in
            LoRATarget.forEachProjection(&w) { p in p.adapters.removeAll { ($0 as? LoRADelta)?.adapterID == id } }
            for (name, values) in originals { w.setNorm(named: name, values) }
        }
    }

    /// Removes every LoRA adapter (the base model again).
    public func detachAllLoRA() {
        for attachment in loraAdapters { try? detachLoRA(id: attachment.id) }
    }
}
