import LoomFormats
import LoomKernels

/// The one place the decoder multiplies by a weight: every projection of
/// ``DecoderForward`` (q, k, v, o, gate, up, down, LM head) goes through ``project(_:_:_:input:runs:rowScales:)``,
/// which runs the base product through ``MatMul`` and then each ``ProjectionAdapter``.
/// llama.cpp's equivalent is `build_lora_mm` (src/llama-graph.cpp).
struct ProjectionSeam {
    /// A projection and where its `[tokens × rows]` output goes.
    struct Output {
        let projection: Projection
        let into: UnsafeMutablePointer<Float>

        init(_ projection: Projection, into: UnsafeMutablePointer<Float>) {
            self.projection = projection
            self.into = into
        }
    }

    /// What a batch row is: a decode or prompt row (``BatchRows``), and whether it must get
    /// its kind's exact arithmetic even without ``KernelOptions/batchInvariant`` (draft rows
    /// under verification: speculative decoding promises plain decoding's answers).
    struct RowKind: Equatable {
        let batch: BatchRows
        let exact: Bool
    }

    /// Consecutive batch rows of one kind: a product runs once per run, so that each row gets
    /// its kind's arithmetic whatever else shares the step. `exact` runs are batch-invariant
    /// whatever the seam's options.
    struct Run: Equatable {
        let rows: Range<Int>
        let batch: BatchRows
        var exact = false
    }

    let pool: ThreadPool
    /// Kernel choices for every product (``KernelOptions``).
    let options: KernelOptions

    /// `y = W·x (+ bias) (+ adapters)` for up to three projections that share their input,
    /// in one dispatch per run (one barrier for Q/K/V instead of three).
    ///
    /// `runs` cover the batch's rows in order and say what they are: `.decode` rows
    /// (independent single-token steps) get the one-token arithmetic, `.prompt` rows the
    /// prompt kernels' (``MatMul/multiply(_:_:_:_:tokens:pool:batch:options:)``).
    func project(_ a: Output, _ b: Output? = nil, _ c: Output? = nil,
                 input: UnsafePointer<Float>, runs: [Run], rowScales: AdapterRowScales = .none) {
        let tokens = runs.last?.rows.upperBound ?? 0
        if a.projection.bitLinear != nil || b?.projection.bitLinear != nil || c?.projection.bitLinear != nil {
            // BitNet weights (every projection of a layer is one, or none is) take their own
            // kernel, which quantises and multiplies every row on its own.
            for output in [a, b, c].compactMap({ $0 }) { multiplyBitLinear(output, input: input, tokens: tokens) }
        } else {
            let columns = a.projection.columns
            for run in runs {
                let first = run.rows.lowerBound
                var runOptions = options
                if run.exact { runOptions.batchInvariant = true }
                MatMul.multiply(target(a, row: first), b.map { target($0, row: first) }, c.map { target($0, row: first) },
                                input + first * columns, tokens: run.rows.count, pool: pool, batch: run.batch, options: runOptions)
            }
        }
        // No array of outputs here: this runs for every projection of every layer.
        addAdapters(a, input: input, tokens: tokens, rowScales: rowScales)
        if let b { addAdapters(b, input: input, tokens: tokens, rowScales: rowScales) }
        if let c { addAdapters(c, input: input, tokens: tokens, rowScales: rowScales) }
    }

    /// The SwiGLU feed-forward's first half: `gateOut = silu(gate·x) ⊙ (up·x)`, `[tokens × ffn]`.
    /// `upOut` is scratch of the same size. One decode row without adapters takes the fused
    /// kernel (``GatedFeedForward``, one dispatch with the activation applied by the workers,
    /// bit-identical to the unfused one-token sequence); everything else is two projections
    /// and ``VectorOps/swiglu(_:up:count:)``.
    func projectGated(gate: Projection, up: Projection, input: UnsafePointer<Float>, runs: [Run],
                      gateOut: UnsafeMutablePointer<Float>, upOut: UnsafeMutablePointer<Float>,
                      activation: Architecture.FeedForwardActivation = .silu, rowScales: AdapterRowScales = .none) {
        let tokens = runs.last?.rows.upperBound ?? 0
        let oneTokenArithmetic = runs.first?.batch != .prompt || !options.batchInvariant
        if tokens == 1 && oneTokenArithmetic && activation == .silu && gate.bitLinear == nil && up.bitLinear == nil
            && gate.adapters.isEmpty && up.adapters.isEmpty && gate.bias == nil && up.bias == nil {
            GatedFeedForward.multiply(gate: gate.weight, up: up.weight, input, into: gateOut, pool: pool, options: options)
            return
        }
        project(Output(gate, into: gateOut), Output(up, into: upOut), input: input, runs: runs, rowScales: rowScales)
        switch activation {
        case .silu: VectorOps.swiglu(gateOut, up: upOut, count: tokens * gate.rows)
        case .squaredReLU: VectorOps.squaredReLUGate(gateOut, up: upOut, count: tokens * gate.rows)
        }
    }

    /// A BitNet projection's base product (``BitLinearKernel``).
    private func multiplyBitLinear(_ output: Output, input: UnsafePointer<Float>, tokens: Int) {
        let p = output.projection
        guard case .bitLinear(let w) = p.storage else { preconditionFailure("\(p.rows)×\(p.columns): not a BitLinear projection") }
        BitLinearKernel.multiply(w, input, tokens: tokens, into: output.into, bias: p.bias.map { UnsafePointer($0.pointer) }, pool: pool)
    }

    /// The product target of `output` from batch row `row` on.
    private func target(_ output: Output, row: Int = 0) -> MatMulTarget {
        MatMulTarget(output.projection.weight, output.into + row * output.projection.rows,
                     bias: output.projection.bias.map { UnsafePointer($0.pointer) })
    }

    /// The runs of a batch whose rows are all `batch` rows.
    static func uniform(_ rows: Int, _ batch: BatchRows) -> [Run] { [Run(rows: 0..<rows, batch: batch)] }

    /// The runs of consecutive rows of equal kind in `kinds`. Without batch invariance in
    /// `options`, every row but the exact ones takes the step's kind as before batch
    /// invariance (decode if every row is a decode row), in as few runs as the exact rows allow.
    func runs(_ kinds: ArraySlice<RowKind>) -> [Run] {
        let invariant = options.batchInvariant
        let legacy: BatchRows = kinds.allSatisfy { $0.batch == .decode } ? .decode : .prompt
        if !invariant && !kinds.contains(where: \.exact) { return Self.uniform(kinds.count, legacy) }
        // The run a row belongs to: its own kind, or the step's for inexact rows without invariance.
        func key(_ kind: RowKind) -> Run {
            invariant || kind.exact ? Run(rows: 0..<0, batch: kind.batch, exact: kind.exact) : Run(rows: 0..<0, batch: legacy)
        }
        var result: [Run] = []
        var start = 0
        let keys = kinds.map(key)
        for (i, k) in keys.enumerated() where i + 1 == keys.count || keys[i + 1] != k {
            result.append(Run(rows: start..<i + 1, batch: k.batch, exact: k.exact))
            start = i + 1
        }
        return result
    }

    private func addAdapters(_ output: Output, input: UnsafePointer<Float>, tokens: Int, rowScales: AdapterRowScales) {
        let p = output.projection
        for adapter in p.adapters {
            adapter.addProduct(input: input, tokens: tokens, inputColumns: p.columns,
                               output: output.into, outputRows: p.rows, rowScales: rowScales.forAdapter(adapter), pool: pool)
        }
    }
}
