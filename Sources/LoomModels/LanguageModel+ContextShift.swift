import LoomKernels

extension LanguageModel {
    /// llama.cpp's context shift on one sequence's cache holding `filled` positions: keeps
    /// the first `keep`, drops the `discard` after them, and moves the rest down with their
    /// keys re-rotated by −`discard` positions (``KVCache/shift(keep:discard:filled:rotate:)``).
    /// RoPE is a rotation by an angle proportional to the position, so R(p − d) = R(−d)·R(p):
    /// the moved keys become exactly what evaluating them at their new positions gives in the
    /// first layer (`ContextShiftParityTests`).
    ///
    /// - Throws: ``ModelError/invalidMetadata(key:reason:path:)`` when `keep`/`discard` do
    ///   not fit the filled positions, or when the RoPE frequencies depend on the sequence
    ///   length (dynamic NTK, LongRoPE), where no single rotation moves a key.
    func shiftContext(of cache: KVCache, filled: Int, keep: Int, discard: Int) throws {
        guard keep >= 0, discard > 0, keep + discard <= filled else {
            throw ModelError.invalidMetadata(
                key: "context shift", reason: "cannot keep \(keep) and drop \(discard) of \(filled) evaluated positions", path: path)
        }
        guard config.ropeDynamic == nil else {
            throw ModelError.invalidMetadata(
                key: "context shift", reason: "\(config.name)'s RoPE scaling depends on the sequence length, "
                    + "so shifted keys cannot be re-rotated; raise --ctx instead", path: path)
        }
        let c = config
        // The rotation by −discard positions: the table's cos/sin without YaRN's magnitude
        // (the keys already carry it once).
        var table = [Float](repeating: 0, count: c.ropeDimensions)
        rope.fillTable(position: -discard, into: &table)
        for i in table.indices { table[i] /= rope.magnitude }
        let rope = self.rope
        table.withUnsafeBufferPointer { table in
            cache.shift(keep: keep, discard: discard, filled: filled) { row in
                rope.apply(row, heads: c.kvHeadCount, headDim: c.headDim, table: table.baseAddress!)
            }
        }
    }
}
