import LoomKernels

/// The `Float` training path of the LoRA products, spread over a ``ThreadPool``: the same
/// maths as the generic ``LoRAFactors/forward(_:tokens:addingInto:scratch:)`` and
/// ``LoRAFactors/backward(_:x:tokens:addingInto:scratch:_:)`` (the reference the tests
/// compare with), but with the rank-sized products as broadcast row sums (``RowSums``)
/// instead of rank-long dot products, and with the work split over tokens (activations and
/// input gradients) or over columns (the factor gradients, so no two workers add to the
/// same element).
extension LoRAFactors where T == Float {
    /// Tokens per claimed chunk of the token-parallel parts.
    static var tokenChunk: Int { 8 }
    /// Columns per claimed slice of the factor gradients.
    static var columnSlice: Int { 64 }

    /// `Bᵀ` (`[r × out]`), so that the rank-side products read contiguous rows.
    private func transposedB() -> UnsafeMutablePointer<Float> {
        let bt = UnsafeMutablePointer<Float>.allocate(capacity: rank * outputs)
        for o in 0..<outputs { for k in 0..<rank { bt[k * outputs + o] = b[o * rank + k] } }
        return bt
    }

    /// `y += s·(x·Aᵀ)·Bᵀ`; `u` (`[tokens × r]`) receives `x·Aᵀ`.
    public func forward(_ x: UnsafePointer<Float>, tokens: Int, addingInto y: UnsafeMutablePointer<Float>,
                        scratch u: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        let bt = transposedB()
        defer { bt.deallocate() }
        let r = rank, inputs = self.inputs, outputs = self.outputs, s = scale, a = self.a.pointer
        pool.parallelFor(count: tokens, chunk: Self.tokenChunk) { range, _ in
            var su = [Float](repeating: 0, count: r)
            for t in range {
                for k in 0..<r {
                    u[t * r + k] = TrainingKernels.dot(x + t * inputs, a + k * inputs, count: inputs)
                    su[k] = s * u[t * r + k]
                }
                RowSums.weightedSum(su, rows: bt, stride: outputs, count: r, width: outputs, into: y + t * outputs, accumulate: true)
            }
        }
    }

    /// Accumulates `∂L/∂B += s·dyᵀ·u` and `∂L/∂A += (s·dy·B)ᵀ·x`, and adds `(s·dy·B)·A` to
    /// `dx`; `u` and `du` are `[tokens × r]` scratch.
    public func backward(_ dy: UnsafePointer<Float>, x: UnsafePointer<Float>, tokens: Int,
                         addingInto dx: UnsafeMutablePointer<Float>, scratch u: UnsafeMutablePointer<Float>,
                         _ du: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        let bt = transposedB()
        let gradBT = UnsafeMutablePointer<Float>.allocate(capacity: rank * outputs)
        gradBT.initialize(repeating: 0, count: rank * outputs)
        defer { bt.deallocate(); gradBT.deallocate() }
        let r = rank, inputs = self.inputs, outputs = self.outputs, s = scale, a = self.a.pointer, gradA = self.gradA.pointer
        // Per token: u = x·Aᵀ, du = s·dy·B, dx += du·A.
        pool.parallelFor(count: tokens, chunk: Self.tokenChunk) { range, _ in
            for t in range {
                for k in 0..<r {
                    u[t * r + k] = TrainingKernels.dot(x + t * inputs, a + k * inputs, count: inputs)
                    du[t * r + k] = s * TrainingKernels.dot(dy + t * outputs, bt + k * outputs, count: outputs)
                }
                RowSums.weightedSum(du + t * r, rows: a, stride: inputs, count: r, width: inputs, into: dx + t * inputs, accumulate: true)
            }
        }
        // Per column slice: ∂Bᵀ[k] += Σ_t u[t,k]·dy_t, ∂A[k] += Σ_t du[t,k]·x_t.
        let slice = Self.columnSlice
        let outSlices = (outputs + slice - 1) / slice, inSlices = (inputs + slice - 1) / slice
        pool.parallelFor(count: outSlices + inSlices, chunk: 1) { range, _ in
            for item in range {
                let isB = item < outSlices
                let c0 = (isB ? item : item - outSlices) * slice
                let width = min(slice, (isB ? outputs : inputs) - c0)
                for k in 0..<r {
                    if isB {
                        RowSums.weightedSum(u + k, cStride: r, rows: dy + c0, stride: outputs, count: tokens, width: width,
                                            into: gradBT + k * outputs + c0, accumulate: true)
                    } else {
                        RowSums.weightedSum(du + k, cStride: r, rows: x + c0, stride: inputs, count: tokens, width: width,
                                            into: gradA + k * inputs + c0, accumulate: true)
                    }
                }
            }
        }
        let gradB = self.gradB.pointer
        for o in 0..<outputs { for k in 0..<r { gradB[o * r + k] += s * gradBT[k * outputs + o] } }
    }
}
