import Foundation
import LoomKernels

/// A quantisation that cannot proceed, with the tensor concerned.
public struct QuantizationError: Error, CustomStringConvertible, Equatable {
    public let path: String
    public let tensor: String?
    public let reason: String

    public init(path: String, tensor: String? = nil, reason: String) {
        self.path = path
        self.tensor = tensor
        self.reason = reason
    }

    public var description: String { "\(path):" + (tensor.map { " tensor '\($0)':" } ?? "") + " " + reason }
}

/// Quantises a GGUF model file into another, like `llama-quantize`: tensor types chosen by
/// ``TensorTypeChooser``, rows converted by ``RowQuantizer`` in parallel on a ``ThreadPool``,
/// all metadata copied with `general.file_type` and `general.quantization_version` set, and
/// the result written atomically by ``GGUFWriter``.
///
/// ```swift
/// var q = GGUFQuantizer(fileType: .mostlyQ4_K_M)
/// let summary = try q.quantize(input: "model-f16.gguf", output: "model-q4km.gguf") { event in
///     print(event.name, event.from, "->", event.to)
/// }
/// ```
public struct GGUFQuantizer {
    /// One converted (or copied) tensor, reported as it finishes.
    public struct Progress: Sendable {
        public let index: Int
        public let count: Int
        public let name: String
        public let dimensions: [Int]
        public let from: GGMLType
        public let to: GGMLType
        public let seconds: Double
    }

    /// What was written.
    public struct Summary: Sendable {
        public let tensorCount: Int
        public let inputBytes: Int
        /// Bytes of tensor data written.
        public let outputTensorBytes: Int
        /// Tensors per output type.
        public let typeCounts: [GGMLType: Int]
        public let seconds: Double
    }

    public var fileType: QuantizationFileType
    public var leaveOutputTensor = false
    public var allowRequantize = false
    public var pure = false
    /// Order of the layer counters (see ``TensorTypeChooser/Order``).
    public var counterOrder: TensorTypeChooser.Order = .loader
    public var threads: Int
    /// Types forced on tensors by exact name, after the mix rules and without the block-size
    /// fallback: a type whose blocks do not fit a tensor's rows (TQ2_0 on 576-wide rows) is an
    /// error naming the tensor, not a silent change of type.
    public var typeOverrides: [String: GGMLType] = [:]
    /// Absmean-ternarise every per-layer projection (BitNet b1.58; ``TernaryPacking``): stored
    /// as TQ1_0/TQ2_0 when that is the file type and the rows fit its 256-element blocks, else
    /// in Loom's packed layout (``TernaryGGUFLayout``). Other tensors follow the file type.
    public var ternary = false

    public init(fileType: QuantizationFileType, threads: Int = ThreadPool.availableProcessors) {
        self.fileType = fileType
        self.threads = max(1, threads)
    }

    /// The type chooser for `file`, from its architecture metadata.
    public func chooser(for file: GGUFFile) -> TensorTypeChooser {
        let arch = file["general.architecture"]?.stringValue ?? "llama"
        let heads = file["\(arch).attention.head_count"]?.intValue ?? 1
        let kvHeads = file["\(arch).attention.head_count_kv"]?.intValue ?? heads
        let layers = file["\(arch).block_count"]?.intValue ?? file.tensors.filter { $0.name.contains("ffn_down") }.count
        let vCount = file.tensors.filter { TensorTypeChooser.isAttentionVLike(TensorTypeChooser.category($0.name)) }.count
        var chooser = TensorTypeChooser(fileType: fileType, layerCount: layers, gqa: kvHeads > 0 ? heads / kvHeads : 1,
                                        tiedEmbeddings: file.tensor(named: "output.weight") == nil, attentionVCount: vCount,
                                        is70B: ArchitectureRegistry.all.first { $0.name == arch }?.isSeventyBillionClass(layers) ?? false)
        chooser.leaveOutputTensor = leaveOutputTensor
        chooser.pure = pure
        chooser.order = counterOrder
        return chooser
    }

    /// Quantises `input` into `output` (written atomically). `progress` is called on the
    /// calling thread after each tensor.
    /// - Throws: ``QuantizationError`` (e.g. requantising without `allowRequantize`),
    ///   `GGUFError` for an unreadable input or a write failure.
    @discardableResult
    public func quantize(input: String, output: String, progress: (Progress) -> Void = { _ in }) throws -> Summary {
        let start = Date()
        let file = try GGUFFile(path: input)
        var plan = chooser(for: file).chooseTypes(for: file.tensors.map { ($0.name, $0.dimensions, $0.type) })
        for (name, type) in typeOverrides {
            guard let t = file.tensor(named: name) else {
                throw QuantizationError(path: input, tensor: name, reason: "has no such tensor to set to \(type)")
            }
            plan[t.name] = type
        }
        // Packed ternary tensors (I8 codes with a scale) are kept as they are: their bytes are
        // not values, so no other type can be made from them.
        for t in file.tensors where t.type.holdsIntegers { plan[t.name] = t.type }
        let ternarised = try ternaryPlan(file, input: input, plan: &plan)
        // Every converted tensor's rows must be whole blocks of its new type.
        for t in file.tensors where !ternarised.contains(t.name) {
            let target = plan[t.name] ?? t.type
            if target != t.type && !RowQuantizer.canQuantize(target, count: t.rowLength) {
                throw QuantizationError(path: input, tensor: t.name, reason: """
                    has rows of \(t.rowLength) elements, not a multiple of the \(target) block size \(target.blockSize); \
                    \(target) cannot hold it (without an override such tensors fall back to a smaller block, as in llama-quantize)
                    """)
            }
        }

        // Refuse before doing any work: requantising compounds two rounding errors.
        if !allowRequantize, let t = file.tensors.first(where: { plan[$0.name] != $0.type && $0.type.blockSize > 1 }) {
            let what = ternarised.contains(t.name) ? "ternarising it" : "quantising it again to \(plan[t.name]!)"
            throw QuantizationError(path: input, tensor: t.name, reason: """
                is already quantised (\(t.type)); \(what) adds a second rounding error \
                on top of the first, so the result is worse than quantising the original F32/F16/BF16 weights. \
                Pass --allow-requantize to do it anyway.
                """)
        }

        var writer = GGUFWriter(alignment: file.alignment)
        writer.copyMetadata(from: file)
        writer.setMetadata("general.quantization_version", .uint32(2))
        writer.setMetadata("general.file_type", .uint32(fileType.rawValue))

        let pool = ThreadPool(threadCount: threads)
        var typeCounts: [GGMLType: Int] = [:]
        var outBytes = 0
        // Each tensor is converted when the writer streams it out, so only one output tensor
        // is in memory at a time; progress is reported as each one is written.
        try withoutActuallyEscaping(progress) { progress in
            // A local copy holds the producers (which capture `progress`) and dies with this block.
            var writer = writer
            for (index, tensor) in file.tensors.enumerated() {
                let target = plan[tensor.name] ?? tensor.type
                if ternarised.contains(tensor.name) {
                    try addTernary(tensor, as: target, file: file, to: &writer, pool: pool) { seconds in
                        progress(Progress(index: index, count: file.tensors.count, name: tensor.name, dimensions: tensor.dimensions,
                                          from: tensor.type, to: target, seconds: seconds))
                    }
                    typeCounts[target, default: 0] += 1
                    outBytes += target == .i8 ? tensor.elementCount / 4 + 4 : target.byteCount(elements: tensor.elementCount)
                    continue
                }
                try writer.addTensor(name: tensor.name, type: target, dimensions: tensor.dimensions) {
                    let tensorStart = Date()
                    let data = target == tensor.type
                        ? Array(file.bytes(for: tensor)) : Self.convert(file: file, tensor: tensor, to: target, pool: pool)
                    progress(Progress(index: index, count: file.tensors.count, name: tensor.name, dimensions: tensor.dimensions,
                                      from: tensor.type, to: target, seconds: Date().timeIntervalSince(tensorStart)))
                    return data
                }
                typeCounts[target, default: 0] += 1
                outBytes += target.byteCount(elements: tensor.dimensions.reduce(1, *))
            }
            try writer.write(to: output)
        }
        return Summary(tensorCount: file.tensors.count, inputBytes: file.fileSize, outputTensorBytes: outBytes,
                       typeCounts: typeCounts, seconds: Date().timeIntervalSince(start))
    }

    /// Converts every row of `tensor` to `target`, rows split across the pool.
    static func convert(file: GGUFFile, tensor: GGUFTensorInfo, to target: GGMLType, pool: ThreadPool) -> [UInt8] {
        let rowLength = tensor.rowLength, rows = tensor.rowCount
        let srcRowBytes = tensor.type.byteCount(elements: rowLength)
        let dstRowBytes = target.byteCount(elements: rowLength)
        var out = [UInt8](repeating: 0, count: dstRowBytes * rows)
        let src = file.data(for: tensor)
        // Enough rows per chunk to amortise the hand-off, at least 16K elements (like llama.cpp).
        let chunk = max(1, (16_384 + rowLength - 1) / rowLength)
        out.withUnsafeMutableBytes { dstBuffer in
            let dst = dstBuffer.baseAddress!
            pool.parallelFor(count: rows, chunk: chunk) { range, worker in
                let scratch = pool.scratch(worker: worker, count: rowLength)
                for r in range {
                    RowKernels.dequantize(tensor.type, src + r * srcRowBytes, into: scratch, count: rowLength)
                    RowQuantizer.quantize(target, scratch, into: dst + r * dstRowBytes, count: rowLength)
                }
            }
        }
        return out
    }
}
