// Prompts (``MatMul`` with 16+ tokens) of ternary weights on integer codes.
//
// Every token's activations are quantised once per product as for decode
// (``TernaryActivations``, token after token in one buffer). A tile of weight rows is unpacked
// once into ``TernaryUnpackedBlock`` form (one byte per code, the scale as a float), so the
// digit extraction of TQ1_0/TQ2_0 is paid once per tile rather than once per token, and then
// every token runs the decode kernel's arithmetic (``ternaryDotFourRows``) on the unpacked
// rows, four rows at a time: each output equals the decode kernel's for that token, bit for bit.

/// Ternary prompt products; see the file header.
enum TernaryPromptKernel {
    /// 4-byte words ``prepare(_:tokens:columns:into:)`` writes: per token `columns` byte
    /// codes, then a scale and a code sum per block.
    static func preparedWords(tokens: Int, columns: Int) -> Int {
        tokens * (columns / 4 + 2 * (columns / 256))
    }

    /// 4-byte words of an unpacked tile of `rows` rows.
    static func tileWords(rows: Int, columns: Int) -> Int {
        (rows * (columns / 256) * TernaryUnpackedBlock.bytes + 3) / 4
    }

    /// Pointers to token `t`'s activations in a buffer made by ``prepare(_:tokens:columns:into:)``.
    static func token(_ t: Int, tokens: Int, columns: Int, in words: UnsafeRawPointer) -> TernaryActivationBlocks {
        let blocks = columns / 256
        let codes = words.assumingMemoryBound(to: Int8.self)
        let scales = (words + tokens * columns).assumingMemoryBound(to: Float.self)
        let sums = (words + tokens * columns + 4 * tokens * blocks).assumingMemoryBound(to: Int32.self)
        return TernaryActivationBlocks(codes: codes + t * columns, scales: scales + t * blocks, sums: sums + t * blocks)
    }

    /// Quantises the `tokens` rows of `x` (`columns` a multiple of 256) into `words`.
    static func prepare(_ x: UnsafePointer<Float>, tokens: Int, columns: Int, into words: UnsafeMutableRawPointer) {
        for t in 0..<tokens {
            let a = token(t, tokens: tokens, columns: columns, in: UnsafeRawPointer(words))
            TernaryActivations.quantize(
                x + t * columns, count: columns, codes: UnsafeMutablePointer(mutating: a.codes),
                scales: UnsafeMutablePointer(mutating: a.scales), sums: UnsafeMutablePointer(mutating: a.sums))
        }
    }

    /// Unpacks rows `rows` of `w` (TQ1_0 or TQ2_0) into `tile`, row after row.
    static func unpack(_ w: WeightMatrix, rows: Range<Int>, into tile: UnsafeMutableRawPointer) {
        let blocks = w.columns / 256
        let rowBytes = blocks * TernaryUnpackedBlock.bytes
        for (i, r) in rows.enumerated() {
            switch w.type {
            case .tq2_0: TernaryUnpackedBlock.unpack(BlockTQ2_0.self, w.row(r), blocks: blocks, into: tile + i * rowBytes)
            case .tq1_0: TernaryUnpackedBlock.unpack(BlockTQ1_0.self, w.row(r), blocks: blocks, into: tile + i * rowBytes)
            default: fatalError("TernaryPromptKernel: \(w.type) is not a ternary format")
            }
        }
    }

    /// `y[t·ldy + firstRow + r] = row r · token t (+ bias)` for the `rows` unpacked rows of
    /// `tile` and every token of the prepared activations `xp`.
    static func multiplyTile(
        _ tile: UnsafeRawPointer, rows: Int, columns: Int, _ xp: UnsafeRawPointer, tokens: Int,
        into y: UnsafeMutablePointer<Float>, ldy: Int, firstRow: Int, bias: UnsafePointer<Float>?
    ) {
        let blocks = columns / 256
        let rowBytes = blocks * TernaryUnpackedBlock.bytes
        for t in 0..<tokens {
            let a = token(t, tokens: tokens, columns: columns, in: xp)
            let yt = y + t * ldy + firstRow
            var r = 0
            while r < rows {
                let n = min(4, rows - r)
                // Fewer than four rows: the group of four ending with them, or each row alone.
                let first = rows >= 4 ? r + n - 4 : r
                let stride = rows >= 4 ? rowBytes : 0
                var v = SIMD4<Float>()
                if rows >= 4 || n == 1 {
                    v = ternaryDotFourRows(TernaryUnpackedBlock.self, NativeByteMadd.self, tile + first * rowBytes, rowBytes: stride, a, blocks: blocks)
                    if rows >= 4 { for k in 0..<n { v[k] = v[4 - n + k] } }
                } else {
                    for k in 0..<n {
                        v[k] = ternaryDotFourRows(TernaryUnpackedBlock.self, NativeByteMadd.self, tile + (r + k) * rowBytes, rowBytes: 0, a, blocks: blocks)[0]
                    }
                }
                if let bias { for k in 0..<n { v[k] += bias[firstRow + r + k] } }
                for k in 0..<n { yt[r + k] = v[k] }
                r += n
            }
        }
    }
}
