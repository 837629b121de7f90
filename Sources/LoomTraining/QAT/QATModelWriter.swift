import Foundation
import LoomFormats
import LoomKernels

/// Writes the outcome of quantisation-aware training as a whole GGUF model: the base file
/// with every trained projection replaced by its *latent* weight (F32, or F16), every other
/// tensor and all metadata copied unchanged. The latent weights, not their ternary rounding,
/// are what a ternary quantiser needs: `loom quantize OUT.gguf X.gguf Q8_0 --ternary`
/// ternarises them by the very rule training used (absmean per tensor, ``TernaryPacking``)
/// into Loom's packed layout, which runs with BitLinear's int8 activations — the λ = 1 model
/// whose loss the trainer reports.
///
/// With ``Content/ternary`` the projections hold `Q(W)` instead — the values
/// `{−1/s, 0, +1/s}` the λ = 1 forward pass used — so that inference on the written file is
/// the trained ternary model itself, and a ternary format whose scale is the block's absmax
/// (ggml's TQ1_0/TQ2_0 reference quantiser, `d = max|x|`) stores it exactly. Quantising the
/// latent weights with such a format instead rounds them by a different rule (`|w| > max/2`
/// per 256-block, not `|w| > mean|W|/2` per tensor) than the one they were trained for.
///
/// The weights are in the base's row order (a GGUF llama's Q/K rows permuted), so they drop
/// into the same tensors as they are. Written atomically (``GGUFWriter``).
public struct QATModelWriter {
    /// What the trained projections hold.
    public enum Content: String, Sendable, CaseIterable {
        /// The f32 latent weights `W` (to continue training, or for another quantiser).
        case latent
        /// Their ternary rounding `Q(W)` (`W_eff` at λ = 1), as floats.
        case ternary
    }

    /// Type of the written projections: `.f32` (exact) or `.f16`.
    public var type: GGMLType
    public var content: Content

    public init(type: GGMLType = .f32, content: Content = .latent) {
        self.type = type
        self.content = content
    }

    /// Writes `base` with `projections` replaced to `output`; returns the replaced tensors' names.
    /// - Throws: ``TrainingError/invalidParameter(_:)`` for a type other than F32/F16, a
    ///   projection the base has no tensor for or one of another shape; ``GGUFError`` from writing.
    @discardableResult
    public func write(base: GGUFFile, projections: [QATProjection], to output: String) throws -> [String] {
        guard type == .f32 || type == .f16 else {
            throw TrainingError.invalidParameter("QAT latent weights are written as f32 or f16, not \(type)")
        }
        var replaced: [String: QATProjection] = [:]
        for p in projections {
            let name = p.module.ggufTensor(layer: p.layer)
            guard let t = base.tensor(named: name) else {
                throw TrainingError.invalidParameter("\(base.path) has no tensor \(name) to write the trained \(p.module.rawValue) of layer \(p.layer) into")
            }
            guard t.dimensions == [p.inputs, p.outputs] else {
                throw TrainingError.invalidParameter("\(name) is \(t.dimensions) in \(base.path), the trained weight [\(p.inputs), \(p.outputs)]")
            }
            replaced[name] = p
        }
        var writer = GGUFWriter(alignment: base.alignment)
        writer.copyMetadata(from: base, excluding: ["general.alignment"])
        let type = self.type, content = self.content
        for t in base.tensors {
            guard let p = replaced[t.name] else {
                try writer.addTensor(name: t.name, type: t.type, dimensions: t.dimensions) { Array(base.bytes(for: t)) }
                continue
            }
            // Produced while writing, one tensor at a time, so the output is not held whole.
            try writer.addTensor(name: t.name, type: type, dimensions: t.dimensions) {
                var values = p.latent.array
                if content == .ternary {
                    let scale = TernaryFakeQuant.weightScale(p.latent.pointer, count: p.latent.count)
                    for i in values.indices { values[i] = TernaryFakeQuant.ternary(values[i], scale: scale) }
                }
                var data = [UInt8](repeating: 0, count: type.byteCount(elements: values.count))
                data.withUnsafeMutableBytes { RowQuantizer.quantize(type, values, into: $0.baseAddress!, count: values.count) }
                return data
            }
        }
        try writer.write(to: output)
        return base.tensors.map(\.name).filter { replaced[$0] != nil }
    }
}
