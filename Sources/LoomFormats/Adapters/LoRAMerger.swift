import Foundation
import LoomKernels

/// Merges LoRA adapters into a GGUF model (llama.cpp `examples/export-lora`): every adapted
/// tensor becomes `W + Σ scale·s·B·A` (DoRA: `g ⊙ (W + s·B·A)` per output row), written as F16
/// (or F32); a norm an adapter replaces (``LoRAAdapter/norms``, PEFT `modules_to_save`) is
/// written as the adapter's F32 weight (the last adapter's, when several replace it, whatever
/// the scale — PEFT's scaling is for the LoRA path only); every other tensor and all metadata
/// are copied unchanged. The output is written atomically.
public struct LoRAMerger {
    /// Merged tensors' type: `.f16` (llama.cpp's export-lora default) or `.f32`.
    public var mergedType: GGMLType = .f16

    public init(mergedType: GGMLType = .f16) {
        self.mergedType = mergedType
    }

    /// What a merge did.
    public struct Summary: Sendable, Equatable {
        public let mergedTensors: [String]
        /// Whether any merged tensor was stored quantised in the base (its rounding is kept).
        public let baseWasQuantized: Bool
    }

    /// Merges `adapters` (each in GGUF row order — see ``LoRAAdapter/reordered(to:headCount:kvHeadCount:permutesQK:)``
    /// — with its user scale, applied in order) into `base`, writing `output`.
    public func merge(base: GGUFFile, adapters: [(LoRAAdapter, Float)], output: String) throws -> Summary {
        guard mergedType == .f16 || mergedType == .f32 else {
            throw LoRAAdapterError(path: output, reason: "merged tensors are written as f16 or f32 (requantise the result afterwards)")
        }
        for (adapter, _) in adapters {
            guard adapter.space == .gguf else {
                throw LoRAAdapterError(path: adapter.path, reason: "internal: merge adapters in GGUF row order")
            }
            for (name, module) in adapter.modules {
                guard let t = base.tensor(named: name) else {
                    throw LoRAAdapterError(path: adapter.path, field: name, reason: "the base model \(base.path) has no such tensor")
                }
                guard !t.type.holdsIntegers else {
                    throw LoRAAdapterError(path: adapter.path, field: name, reason: """
                        the base tensor is a packed ternary projection (\(base.path)); merge into the float model, \
                        then ternarise it with loom quantize --ternary
                        """)
                }
                guard t.dimensions.count == 2, t.dimensions == [module.inputs, module.outputs] else {
                    throw LoRAAdapterError(path: adapter.path, field: name,
                                           reason: "B·A is [\(module.outputs) × \(module.inputs)] but the base tensor is [\(t.dimensions.count == 2 ? "\(t.dimensions[1]) × \(t.dimensions[0])" : "\(t.dimensions)")] ([rows × columns])")
                }
            }
            for (name, values) in adapter.norms {
                guard let t = base.tensor(named: name) else {
                    throw LoRAAdapterError(path: adapter.path, field: name, reason: "the base model \(base.path) has no such norm tensor")
                }
                guard t.dimensions == [values.count] else {
                    throw LoRAAdapterError(path: adapter.path, field: name, reason: "the saved norm has \(values.count) values but the base tensor is \(t.dimensions)")
                }
            }
        }
        var writer = GGUFWriter(alignment: base.alignment)
        writer.copyMetadata(from: base, excluding: ["general.alignment"])
        var merged: [String] = [], quantizedBase = false
        for t in base.tensors {
            if let norm = adapters.last(where: { $0.0.norms[t.name] != nil })?.0.norms[t.name] {
                try writer.addTensor(name: t.name, type: .f32, dimensions: t.dimensions, data: norm.withUnsafeBytes { Array($0) })
                merged.append(t.name)
                continue
            }
            let changes = adapters.compactMap { a, scale in a.modules[t.name].map { ($0, scale) } }
            guard !changes.isEmpty else {
                try writer.addTensor(name: t.name, type: t.type, dimensions: t.dimensions, data: Array(base.bytes(for: t)))
                continue
            }
            if t.type != .f32 && t.type != .f16 && t.type != .bf16 { quantizedBase = true }
            var w = GGUFLoRAReader.floatsOf(base, t)
            for (module, scale) in changes { Self.apply(module, scale: scale, to: &w) }
            var data = [UInt8](repeating: 0, count: mergedType.byteCount(elements: w.count))
            w.withUnsafeBufferPointer { src in
                data.withUnsafeMutableBytes { RowQuantizer.quantize(mergedType, src.baseAddress!, into: $0.baseAddress!, count: w.count) }
            }
            try writer.addTensor(name: t.name, type: mergedType, dimensions: t.dimensions, data: data)
            merged.append(t.name)
        }
        try writer.write(to: output)
        return Summary(mergedTensors: merged, baseWasQuantized: quantizedBase)
    }

    /// `w` (`[outputs × inputs]` row-major) ← `w + scale·s·B·A`, or DoRA's `g ⊙ (w + scale·s·B·A)`.
    static func apply(_ module: LoRAAdapter.Module, scale: Float, to w: inout [Float]) {
        var m = module
        m.scale *= scale
        let delta = m.delta()
        for i in w.indices { w[i] += delta[i] }
        guard let magnitude = module.magnitude else { return }
        let columns = module.inputs
        for o in 0..<module.outputs {
            var sum: Double = 0
            for i in 0..<columns { sum += Double(w[o * columns + i]) * Double(w[o * columns + i]) }
            let g = magnitude[o] / Float(sum.squareRoot())
            for i in 0..<columns { w[o * columns + i] *= g }
        }
    }
}
