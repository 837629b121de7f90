import Foundation
import LoomKernels

/// `--ternary`: absmean ternarisation of the per-layer projections (``GGUFQuantizer/ternary``).
extension GGUFQuantizer {
    /// Chooses how each projection is stored when ``ternary`` is set, records it in `plan`, and
    /// returns the names of the tensors to ternarise.
    func ternaryPlan(_ file: GGUFFile, input: String, plan: inout [String: GGMLType]) throws -> Set<String> {
        guard ternary else { return [] }
        let archName = file["general.architecture"]?.stringValue ?? "llama"
        if let arch = ArchitectureRegistry.all.first(where: { $0.name == archName }), arch.fusedQKV || arch.fusedGateUp {
            throw QuantizationError(path: input, reason: """
                \(archName) fuses its q/k/v or gate/up projections into one tensor; ternarising them would \
                share one scale between matrices that BitNet scales apart, and Loom's loader splits fused \
                tensors only in block formats
                """)
        }
        let blockType = fileType.defaultType
        var names: Set<String> = []
        for t in file.tensors where TernaryGGUFLayout.isProjection(t.name) && t.dimensions.count == 2
            && !t.type.holdsIntegers && typeOverrides[t.name] == nil {
            let columns = t.dimensions[0], rows = t.dimensions[1]
            if (blockType == .tq1_0 || blockType == .tq2_0) && columns % blockType.blockSize == 0 {
                plan[t.name] = blockType
            } else {
                guard rows % 4 == 0 else {
                    throw QuantizationError(path: input, tensor: t.name, reason: """
                        has \(rows) rows; Loom's packed ternary layout holds four rows per byte, so rows must be a \
                        multiple of 4 (and TQ blocks need rows of a multiple of 256 elements; this one has \(columns))
                        """)
                }
                let scaleName = TernaryGGUFLayout.scaleName(forWeight: t.name)
                guard file.tensor(named: scaleName) == nil else {
                    throw QuantizationError(path: input, tensor: scaleName, reason: "already exists; a packed ternary weight needs this name for its scale")
                }
                plan[t.name] = .i8
            }
            names.insert(t.name)
        }
        return names
    }

    /// Adds `tensor` ternarised: as `target` (TQ1_0/TQ2_0: the ternary values, which those
    /// quantisers store exactly) or packed (I8 codes plus an F32 `.scale` tensor).
    func addTernary(_ tensor: GGUFTensorInfo, as target: GGMLType, file: GGUFFile, to writer: inout GGUFWriter,
                    pool: ThreadPool, progress: @escaping (Double) -> Void) throws {
        let columns = tensor.rowLength, rows = tensor.rowCount
        guard target == .i8 else {
            try writer.addTensor(name: tensor.name, type: target, dimensions: tensor.dimensions) {
                let start = Date()
                var values = Self.floats(file, tensor, pool: pool)
                values.withUnsafeMutableBufferPointer { w in
                    let s = TernaryPacking.absmeanInverseScale(w.baseAddress!, count: w.count)
                    // q/s as transformers' weight_quant returns it; TQ's max|x| block scale is then 1/s.
                    for i in w.indices { w[i] = Float(TernaryPacking.ternary(w[i], inverseScale: s)) / s }
                }
                let rowBytes = target.byteCount(elements: columns)
                var out = [UInt8](repeating: 0, count: rowBytes * rows)
                values.withUnsafeBufferPointer { src in
                    out.withUnsafeMutableBytes { dst in
                        let (src, dst) = (src.baseAddress!, dst.baseAddress!)
                        pool.parallelFor(count: rows, chunk: max(1, 16_384 / columns)) { range, _ in
                            for r in range { RowQuantizer.quantize(target, src + r * columns, into: dst + r * rowBytes, count: columns) }
                        }
                    }
                }
                progress(Date().timeIntervalSince(start))
                return out
            }
            return
        }
        try TernaryGGUFLayout.addPacked(to: &writer, name: tensor.name, rows: rows, columns: columns) {
            let start = Date()
            defer { progress(Date().timeIntervalSince(start)) }
            return Self.floats(file, tensor, pool: pool)
        }
    }

    /// The tensor's values as floats, rows dequantised across the pool.
    static func floats(_ file: GGUFFile, _ tensor: GGUFTensorInfo, pool: ThreadPool) -> [Float] {
        let columns = tensor.rowLength, rows = tensor.rowCount
        let rowBytes = tensor.type.byteCount(elements: columns)
        let src = file.data(for: tensor)
        return [Float](unsafeUninitializedCapacity: rows * columns) { buffer, initialized in
            let dst = buffer.baseAddress!
            pool.parallelFor(count: rows, chunk: max(1, 16_384 / columns)) { range, _ in
                for r in range { RowKernels.dequantize(tensor.type, src + r * rowBytes, into: dst + r * columns, count: columns) }
            }
            initialized = rows * columns
        }
    }
}
