import LoomFormats
import LoomKernels

/// One LoRA module attached to one projection: adds `s·B·(A·x)` to the base product, unmerged,
/// whatever the base weight's type (PEFT `lora.Linear.forward`; llama.cpp `llm_build_lora_mm`).
/// With DoRA (PEFT `DoraLinearLayer.forward`) the row magnitudes rescale the whole output:
/// `y ← y + (g−1)·(y − bias) + g·s·B·A·x` with `g = m / ‖W + s·B·A‖` per output row.
///
/// Shapes: `a` is `[rank × inputs]` row-major; `b` is kept transposed, `[rank × outputs]`,
/// so the second product is `rank` contiguous `axpy`s over the output row.
final class LoRADelta: ProjectionAdapter, @unchecked Sendable {
    /// Which attached adapter this module belongs to (``LanguageModel/loraAdapters``).
    let adapterID: Int
    let rank: Int
    let inputs: Int
    let outputs: Int
    /// Module scale × the user's scale.
    let scale: Float
    private let a: UnsafeMutablePointer<Float>            // [rank × inputs]
    private let bTransposed: UnsafeMutablePointer<Float>  // [rank × outputs]
    /// DoRA: `g` per output row, and the base bias PEFT keeps out of the rescaled part.
    private let magnitudeScale: UnsafeMutablePointer<Float>?  // [outputs]
    private let bias: FloatVector?

    /// `rows` selects the output rows of `module` this delta covers (a slice of a fused
    /// projection, e.g. the K rows of Phi-3's `qkv_proj`); `b` is `[module.outputs × rank]`.
    init(adapterID: Int, module: LoRAAdapter.Module, rows: Range<Int>, b: [Float], userScale: Float,
         base: Projection) {
        self.adapterID = adapterID
        self.rank = module.rank
        self.inputs = module.inputs
        self.outputs = rows.count
        let scale = module.scale * userScale
        self.scale = scale
        let rank = module.rank, inputs = module.inputs, outputs = rows.count
        let a = UnsafeMutablePointer<Float>.allocate(capacity: rank * inputs)
        module.a.withUnsafeBufferPointer { a.initialize(from: $0.baseAddress!, count: rank * inputs) }
        let bTransposed = UnsafeMutablePointer<Float>.allocate(capacity: rank * outputs)
        for (o, row) in rows.enumerated() {
            for j in 0..<rank { bTransposed[j * outputs + o] = b[row * rank + j] }
        }
        self.a = a
        self.bTransposed = bTransposed
        if let m = module.magnitude {
            let g = UnsafeMutablePointer<Float>.allocate(capacity: outputs)
            let norms = Self.adaptedRowNorms(base.weight, a: a, bTransposed: bTransposed, rank: rank, scale: scale)
            for (o, row) in rows.enumerated() { g[o] = m[row] / norms[o] }
            magnitudeScale = g
            bias = base.bias
        } else {
            magnitudeScale = nil
            bias = nil
        }
    }

    deinit {
        a.deallocate()
        bTransposed.deallocate()
        magnitudeScale?.deallocate()
    }

    /// `‖W_o + s·(B·A)_o‖₂` for every output row o (PEFT `DoraLinearLayer.get_weight_norm`).
    private static func adaptedRowNorms(_ w: WeightMatrix, a: UnsafePointer<Float>, bTransposed: UnsafePointer<Float>,
                                        rank: Int, scale: Float) -> [Float] {
        var row = [Float](repeating: 0, count: w.columns), norms = [Float](repeating: 0, count: w.rows)
        row.withUnsafeMutableBufferPointer { r in
            for o in 0..<w.rows {
                w.dequantizeRow(o, into: r.baseAddress!)
                for j in 0..<rank {
                    VectorOps.axpy(scale * bTransposed[j * w.rows + o], a + j * w.columns, r.baseAddress!, count: w.columns)
                }
                var sum: Double = 0
                for v in r { sum += Double(v) * Double(v) }
                norms[o] = Float(sum.squareRoot())
            }
        }
        return norms
    }

    func addProduct(input: UnsafePointer<Float>, tokens: Int, inputColumns: Int,
                    output: UnsafeMutablePointer<Float>, outputRows: Int, pool: ThreadPool) {
        precondition(inputColumns == inputs && outputRows == outputs, "LoRA shape checked at attach")
        // A decode step is ~rank·(inputs+outputs) multiply-adds: far less than a pool dispatch
        // costs, so small batches run on the calling thread.
        let work = tokens * rank * (inputs + outputs)
        if work < 1 << 20 || pool.threadCount == 1 {
            addRows(0..<tokens, input: input, output: output)
        } else {
            pool.parallelFor(count: tokens, chunk: pool.chunkSize(for: tokens)) { range, _ in
                addRows(range, input: input, output: output)
            }
        }
    }

    private func addRows(_ tokens: Range<Int>, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: rank + (magnitudeScale == nil ? 0 : outputs)) { scratch in
            let projected = scratch.baseAddress!                 // [rank]: A·x
            for t in tokens {
                let x = input + t * inputs, y = output + t * outputs
                for j in 0..<rank { projected[j] = Self.dot(a + j * inputs, x, count: inputs) }
                guard let g = magnitudeScale else {
                    for j in 0..<rank where projected[j] != 0 {
                        VectorOps.axpy(scale * projected[j], bTransposed + j * outputs, y, count: outputs)
                    }
                    continue
                }
                let lora = projected + rank                      // [outputs]: s·B·A·x
                lora.update(repeating: 0, count: outputs)
                for j in 0..<rank { VectorOps.axpy(scale * projected[j], bTransposed + j * outputs, lora, count: outputs) }
                let b = bias?.pointer
                for o in 0..<outputs {
                    let base = y[o] - (b?[o] ?? 0)
                    y[o] += (g[o] - 1) * base + g[o] * lora[o]
                }
            }
        }
    }

    /// `Σ x[i]·y[i]` in 16-wide SIMD with a scalar tail.
    @inline(__always)
    static func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, count: Int) -> Float {
        var acc = SIMD16<Float>(repeating: 0)
        var i = 0
        while i + 16 <= count {
            acc.addProduct(UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self),
                           UnsafeRawPointer(y + i).loadUnaligned(as: SIMD16<Float>.self))
            i += 16
        }
        var sum = acc.sum()
        while i < count {
            sum += x[i] * y[i]
            i += 1
        }
        return sum
    }
}
