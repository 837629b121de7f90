import LoomKernels

/// Causal grouped-query attention with softmax, forward and backward, for one sequence of
/// `n` tokens — transformers' `eager_attention_forward` (`modeling_llama.py`:
/// `softmax(Q·Kᵀ·d^-½ + causal mask)·V`, K/V heads repeated `heads/kvHeads` times).
///
/// No `n × n` matrix is kept: the forward pass saves each query row's log-sum-exp, and the
/// backward pass recomputes that row's probabilities from it (FlashAttention-2's backward,
/// Dao 2023, arXiv:2307.08691, one query row at a time), so the extra memory is one row of
/// `n` scores per worker.
///
/// Layouts: `q`, `out` are `[n × heads·headDim]`; `k`, `v` `[n × kvHeads·headDim]`; `lse`
/// `[n × heads]`. `window` (sliding-window attention) limits each row to its last `window`
/// positions, itself included.
public struct AttentionOp {
    public let heads: Int
    public let kvHeads: Int
    public let headDim: Int
    public let window: Int?

    public init(heads: Int, kvHeads: Int, headDim: Int, window: Int? = nil) {
        precondition(heads % kvHeads == 0)
        self.heads = heads
        self.kvHeads = kvHeads
        self.headDim = headDim
        self.window = window
    }

    /// The first key position query row `i` sees.
    @inlinable func first(_ i: Int) -> Int { window.map { max(0, i + 1 - $0) } ?? 0 }

    /// Runs `body(range)` over `0..<count` on `pool`'s threads, or inline without a pool.
    func split(_ count: Int, pool: ThreadPool?, _ body: (Range<Int>) -> Void) {
        if let pool { pool.parallelFor(count: count, chunk: 1) { range, _ in body(range) } } else { body(0..<count) }
    }

    /// `out` and `lse` for `n` tokens. Parallel over (query head, row) pairs.
    public func forward<T: TrainingScalar>(
        q: UnsafePointer<T>, k: UnsafePointer<T>, v: UnsafePointer<T>, n: Int,
        out: UnsafeMutablePointer<T>, lse: UnsafeMutablePointer<T>, pool: ThreadPool? = nil
    ) {
        let qDim = heads * headDim, kvDim = kvHeads * headDim, group = heads / kvHeads
        let scale = 1 / T(headDim).squareRoot()
        split(heads, pool: pool) { range in
            let scores = UnsafeMutablePointer<T>.allocate(capacity: max(1, n))
            defer { scores.deallocate() }
            for h in range {
                let g = h / group
                for i in 0..<n {
                    let qi = q + i * qDim + h * headDim
                    var m = -T.infinity
                    for j in first(i)...i {
                        let kj = k + j * kvDim + g * headDim
                        let s = TrainingKernels.dot(qi, kj, count: headDim) * scale
                        scores[j] = s
                        m = max(m, s)
                    }
                    var sum: T = 0
                    for j in first(i)...i {
                        scores[j] = T.exponential(scores[j] - m)
                        sum += scores[j]
                    }
                    lse[i * heads + h] = m + T.logarithm(sum)
                    let oi = out + i * qDim + h * headDim
                    for e in 0..<headDim { oi[e] = 0 }
                    for j in first(i)...i {
                        TrainingKernels.axpy(scores[j] / sum, v + j * kvDim + g * headDim, oi, count: headDim)
                    }
                }
            }
        }
    }

    /// Writes `dq`, `dk`, `dv` (overwritten) from `dOut`, recomputing each row's
    /// probabilities `p_ij = exp(s_ij − lse_i)`: with `D_i = dO_i·O_i`,
    /// `dS_ij = p_ij(dO_i·V_j − D_i)`, `dQ_i = d^-½ Σ_j dS_ij K_j`, `dK_j = d^-½ Σ_i dS_ij Q_i`,
    /// `dV_j = Σ_i p_ij dO_i`. Parallel over KV heads, each owning its slices of `dk`/`dv`.
    public func backward<T: TrainingScalar>(
        dOut: UnsafePointer<T>, q: UnsafePointer<T>, k: UnsafePointer<T>, v: UnsafePointer<T>,
        out: UnsafePointer<T>, lse: UnsafePointer<T>, n: Int,
        dq: UnsafeMutablePointer<T>, dk: UnsafeMutablePointer<T>, dv: UnsafeMutablePointer<T>, pool: ThreadPool? = nil
    ) {
        let qDim = heads * headDim, kvDim = kvHeads * headDim, group = heads / kvHeads
        let scale = 1 / T(headDim).squareRoot()
        split(kvHeads, pool: pool) { range in
            let probs = UnsafeMutablePointer<T>.allocate(capacity: max(1, n))
            defer { probs.deallocate() }
            for g in range {
                for j in 0..<n {
                    for e in 0..<headDim { dk[j * kvDim + g * headDim + e] = 0; dv[j * kvDim + g * headDim + e] = 0 }
                }
                for h in g * group..<(g + 1) * group {
                    for i in 0..<n {
                        let qi = q + i * qDim + h * headDim, doi = dOut + i * qDim + h * headDim
                        let oi = out + i * qDim + h * headDim, dqi = dq + i * qDim + h * headDim
                        let d = TrainingKernels.dot(doi, oi, count: headDim)
                        let l = lse[i * heads + h]
                        for e in 0..<headDim { dqi[e] = 0 }
                        for j in first(i)...i {
                            let kj = k + j * kvDim + g * headDim, vj = v + j * kvDim + g * headDim
                            let s = TrainingKernels.dot(qi, kj, count: headDim)
                            let dp = TrainingKernels.dot(doi, vj, count: headDim)
                            let p = T.exponential(s * scale - l)
                            let ds = p * (dp - d) * scale
                            TrainingKernels.axpy(ds, kj, dqi, count: headDim)
                            TrainingKernels.axpy(ds, qi, dk + j * kvDim + g * headDim, count: headDim)
                            TrainingKernels.axpy(p, doi, dv + j * kvDim + g * headDim, count: headDim)
                        }
                    }
                }
            }
        }
    }
}
