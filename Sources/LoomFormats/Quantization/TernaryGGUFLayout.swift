import LoomKernels

/// How Loom stores a ternary projection whose rows TQ1_0/TQ2_0 cannot hold (their blocks are
/// 256 elements; SmolLM2's rows are 576 wide, Qwen2.5-0.5B's 896) in a GGUF file:
///
/// - `<stem>.weight`: ggml type I8, dimensions `[columns, rows/4]` — the bytes of
///   transformers' `pack_weights` (``TernaryPacking``), four 2-bit codes per byte, 2.0 bits per
///   weight for any row length;
/// - `<stem>.scale`: F32 `[1]`, the factor every product is multiplied by (the meaning
///   llama.cpp's bitnet graph gives its optional `wq_scale`… tensors).
///
/// Activations are quantised per token to int8 on their absmax, as BitNet's BitLinear does
/// (``BitLinearKernel``). Both are standard ggml types, so gguf-py and `gguf-dump` read such
/// a file; llama.cpp does not run it (it has no packed-ternary I8 projection).
public enum TernaryGGUFLayout {
    /// The projection tensors a ternary model packs (BitNet quantises every linear layer of
    /// the blocks; embeddings, norms and the LM head keep higher precision).
    public static let projectionNames = ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"]

    /// Whether `name` is a per-layer projection weight (`blk.N.attn_q.weight`, …).
    public static func isProjection(_ name: String) -> Bool {
        guard name.hasPrefix("blk."), name.hasSuffix(".weight") else { return false }
        let stem = name.dropLast(".weight".count)
        return projectionNames.contains { stem.hasSuffix("." + $0) }
    }

    /// `blk.0.attn_q.weight` → `blk.0.attn_q.scale`.
    public static func scaleName(forWeight name: String) -> String {
        (name.hasSuffix(".weight") ? String(name.dropLast(".weight".count)) : name) + ".scale"
    }

    /// The stored dimensions of a packed `rows × columns` matrix.
    public static func packedDimensions(rows: Int, columns: Int) -> [Int] { [columns, rows / 4] }

    /// Ternarises a `rows × columns` row-major matrix (absmean, ``TernaryPacking``) into the
    /// packed bytes and the product scale to store.
    public static func pack(_ values: [Float], rows: Int, columns: Int) -> (bytes: [UInt8], scale: Float) {
        precondition(values.count == rows * columns)
        return values.withUnsafeBufferPointer { w in
            // A matrix that is already ternary (a converted BitNet model) keeps its own scale d
            // exactly; absmean would give the same codes but the scale d·(fraction non-zero).
            let exact = TernaryPacking.exactScale(w.baseAddress!, count: values.count)
            let s = exact.map { 1 / $0 } ?? TernaryPacking.absmeanInverseScale(w.baseAddress!, count: values.count)
            var bytes = [UInt8](repeating: 0, count: rows / 4 * columns)
            bytes.withUnsafeMutableBufferPointer { TernaryPacking.pack(w.baseAddress!, rows: rows, columns: columns, inverseScale: s, into: $0.baseAddress!) }
            return (bytes, exact ?? 1 / s)
        }
    }

    /// Adds `name` packed (I8) and its `.scale` (F32) to `writer`. `values` (row-major
    /// `rows × columns` floats) runs when the writer streams the weight; the scale follows it.
    public static func addPacked(to writer: inout GGUFWriter, name: String, rows: Int, columns: Int,
                                 values: @escaping () throws -> [Float]) throws {
        // The weight's producer runs first (the writer produces tensors in order) and hands its
        // scale to the scale tensor's.
        final class ScaleBox: @unchecked Sendable { var value: Float = .nan }
        let box = ScaleBox()
        try writer.addTensor(name: name, type: .i8, dimensions: packedDimensions(rows: rows, columns: columns)) {
            let (bytes, scale) = pack(try values(), rows: rows, columns: columns)
            box.value = scale
            return bytes
        }
        try writer.addTensor(name: scaleName(forWeight: name), type: .f32, dimensions: [1]) {
            withUnsafeBytes(of: box.value.bitPattern.littleEndian) { Array($0) }
        }
    }
}
