import Foundation
import LoomKernels

/// The LM head and the causal-LM cross-entropy (``CrossEntropyOp``'s loss and gradient)
/// without a `rows × vocab` logits buffer: the head's rows are taken ``vocabChunk`` at a
/// time. A first pass computes each chunk's logits and folds them into a running maximum and
/// sum of exponentials per row (the online log-sum-exp of Milakov & Gimelshein 2018,
/// arXiv:1805.02867); a second pass recomputes each chunk's logits, turns them into the
/// gradient `(softmax − onehot)·gradScale` and adds the chunk's transposed product to the
/// hidden states' gradient, while that chunk of the head is still in cache. The price is one
/// more product with the head; the memory is `rows × vocabChunk` floats. When all of a
/// call's logits fit in ``keptLogits`` floats, pass 1 keeps them and pass 2 reads them back
/// instead of multiplying again (a third of the head's work; 100 MB for 512 rows of
/// SmolLM2's 49 152-entry vocabulary, a fraction of what PyTorch holds for the same step).
public struct ChunkedCrossEntropy: @unchecked Sendable {
    public let head: FrozenProjection
    /// Head rows (vocabulary entries) per chunk.
    public let vocabChunk: Int
    /// The most logits (floats) a call keeps between its two passes; 0 recomputes always.
    public let keptLogits: Int

    public init(head: FrozenProjection, vocabChunk: Int = 4096, keptLogits: Int = 0) {
        self.head = head
        self.vocabChunk = max(16, vocabChunk)
        self.keptLogits = max(0, keptLogits)
    }

    typealias V = SIMD16<Float>

    /// `logits[rows × width] = x·W[v0 ..< v0+width]ᵀ (+ bias)`.
    private func chunkLogits(_ x: UnsafePointer<Float>, rows: Int, v0: Int, width: Int, into logits: UnsafeMutablePointer<Float>,
                             pool: ThreadPool) {
        let bias = head.bias.map { UnsafePointer($0.pointer) + v0 }
        TrainingGEMM.multiply(x, rows: rows, lda: head.inputs, head.weight.rows(v0..<v0 + width), form: .transposed, into: logits,
                              ldc: width, accumulate: false, bias: bias, pool: pool)
    }

    /// For `rows` hidden states `x` (`[rows × inputs]`) and their targets: returns the summed
    /// loss of the rows whose target is not ``CrossEntropyOp/ignoreIndex`` and adds
    /// `∂(gradScale · loss)/∂x` to `dx` (nothing for ignored rows).
    ///
    /// With a bf16/f16 `precision` the head is a 16-bit product as under `torch.autocast`: its
    /// logits are rounded before the (f32) loss, and the logits' gradient is rounded before the
    /// transposed product (see ``PrecisionPolicy``).
    public func lossAndInputGradient(_ x: UnsafePointer<Float>, targets: UnsafePointer<Int32>, rows: Int,
                                     addingInto dx: UnsafeMutablePointer<Float>, gradScale: Float,
                                     precision: PrecisionPolicy = .f32, pool: ThreadPool) -> Double {
        let vocab = head.outputs, chunk = min(vocabChunk, vocab)
        // Kept: chunk `v0`'s logits at `logits + rows·v0`; else one chunk's, recomputed.
        let keep = rows * vocab <= keptLogits
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: max(1, keep ? rows * vocab : rows * chunk))
        defer { buffer.deallocate() }
        // Per-row state. Rows are independent, so the per-row work of both passes is split
        // across the pool (on the training thread alone it left the other cores idle for
        // ≈ 3 % of a 512-token step); each row's arithmetic is the same whoever runs it.
        let state = UnsafeMutablePointer<Float>.allocate(capacity: 3 * max(1, rows))
        let sums = UnsafeMutablePointer<Double>.allocate(capacity: max(1, rows))
        defer { state.deallocate(); sums.deallocate() }
        let maxima = state, targetLogits = state + rows, lse = state + 2 * rows
        maxima.initialize(repeating: -.infinity, count: rows)
        targetLogits.initialize(repeating: 0, count: rows)
        lse.initialize(repeating: 0, count: rows)
        sums.initialize(repeating: 0, count: rows)
        let rowChunk = max(1, rows / (pool.threadCount * 4))
        // Pass 1: the log-sum-exp of every row, online over the chunks.
        var v0 = 0
        while v0 < vocab {
            let width = min(chunk, vocab - v0)
            let logits = keep ? buffer + rows * v0 : buffer
            chunkLogits(x, rows: rows, v0: v0, width: width, into: logits, pool: pool)
            precision.round(logits, count: rows * width)
            let first = v0
            pool.parallelFor(count: rows, chunk: rowChunk) { range, _ in
                for r in range where targets[r] != CrossEntropyOp.ignoreIndex {
                    let l = logits + r * width
                    let m = max(maxima[r], Self.maximum(l, count: width))
                    sums[r] = sums[r] * Double(Float.exponential(maxima[r] - m)) + Double(Self.sumOfExponentials(l, count: width, minus: m))
                    maxima[r] = m
                    let t = Int(targets[r])
                    if t >= first && t < first + width { targetLogits[r] = l[t - first] }
                }
            }
            v0 += width
        }
        var total = 0.0
        for r in 0..<rows where targets[r] != CrossEntropyOp.ignoreIndex {
            let l = Double(maxima[r]) + log(sums[r])
            lse[r] = Float(l)
            total += l - Double(targetLogits[r])
        }
        // Pass 2: each chunk's gradient, straight into the transposed product.
        v0 = 0
        while v0 < vocab {
            let width = min(chunk, vocab - v0)
            let logits = keep ? buffer + rows * v0 : buffer
            if !keep {
                chunkLogits(x, rows: rows, v0: v0, width: width, into: logits, pool: pool)
                precision.round(logits, count: rows * width)
            }
            let first = v0
            pool.parallelFor(count: rows, chunk: rowChunk) { range, _ in
                for r in range {
                    let l = logits + r * width
                    guard targets[r] != CrossEntropyOp.ignoreIndex else { l.update(repeating: 0, count: width); continue }
                    Self.softmaxGradient(l, count: width, lse: lse[r], scale: gradScale)
                    let t = Int(targets[r])
                    if t >= first && t < first + width { l[t - first] -= gradScale }
                }
            }
            precision.round(logits, count: rows * width)
            FrozenProjection(weight: head.weight.rows(v0..<v0 + width))
                .accumulateInputGradient(logits, tokens: rows, into: dx, pool: pool)
            v0 += width
        }
        return total
    }

    static func maximum(_ x: UnsafePointer<Float>, count: Int) -> Float {
        var m = V(repeating: -.infinity)
        var i = 0
        // Not `pointwiseMax`: it runs lane by lane through the stack (NaN rules per lane).
        while i + 16 <= count {
            let v = UnsafeRawPointer(x + i).loadUnaligned(as: V.self)
            m.replace(with: v, where: v .> m)
            i += 16
        }
        var s = m.max()
        while i < count { s = max(s, x[i]); i += 1 }
        return s
    }

    /// `Σ e^(x_i − m)` (``VectorOps/exponential(_:)``, within 2 ulp of `expf`).
    static func sumOfExponentials(_ x: UnsafePointer<Float>, count: Int, minus m: Float) -> Float {
        var acc = V()
        var i = 0
        while i + 16 <= count { acc += VectorOps.exponential(UnsafeRawPointer(x + i).loadUnaligned(as: V.self) - m); i += 16 }
        var s = acc.sum()
        while i < count { s += Float.exponential(x[i] - m); i += 1 }
        return s
    }

    /// `x_i ← e^(x_i − lse)·scale`.
    static func softmaxGradient(_ x: UnsafeMutablePointer<Float>, count: Int, lse: Float, scale: Float) {
        var i = 0
        while i + 16 <= count {
            let p = UnsafeMutableRawPointer(x + i)
            p.storeBytes(of: VectorOps.exponential(p.loadUnaligned(as: V.self) - lse) * scale, as: V.self)
            i += 16
        }
        while i < count { x[i] = Float.exponential(x[i] - lse) * scale; i += 1 }
    }
}
