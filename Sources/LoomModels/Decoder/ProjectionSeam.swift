import LoomFormats
import LoomKernels

/// The one place the decoder multiplies by a weight: every projection of
/// ``DecoderForward`` (q, k, v, o, gate, up, down, LM head) goes through ``project(_:_:_:input:tokens:decodeStep:)``,
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

    let pool: ThreadPool
    /// Kernel choices for every product (``KernelOptions``).
    let options: KernelOptions

    /// `y = W·x (+ bias) (+ adapters)` for up to three projections that share their input,
    /// in one dispatch (one barrier for Q/K/V instead of three).
    ///
    /// `decodeStep`: every row is an independent single-token step (a server decode step,
    /// LM-head rows), so small batches may take the integer batch kernels; see
    /// ``MatMul/multiply(_:_:_:_:tokens:pool:integerBatch:)`` for why prompts must not.
    func project(_ a: Output, _ b: Output? = nil, _ c: Output? = nil,
                 input: UnsafePointer<Float>, tokens: Int, decodeStep: Bool, rowScales: AdapterRowScales = .none) {
        if a.projection.bitLinear != nil || b?.projection.bitLinear != nil || c?.projection.bitLinear != nil {
            // BitNet weights (every projection of a layer is one, or none is) take their own kernel.
            for output in [a, b, c].compactMap({ $0 }) { multiplyAlone(output, input: input, tokens: tokens, decodeStep: decodeStep) }
        } else {
            MatMul.multiply(target(a), b.map(target), c.map(target), input, tokens: tokens, pool: pool,
                            integerBatch: decodeStep, options: options)
        }
        // No array of outputs here: this runs for every projection of every layer.
        addAdapters(a, input: input, tokens: tokens, rowScales: rowScales)
        if let b { addAdapters(b, input: input, tokens: tokens, rowScales: rowScales) }
        if let c { addAdapters(c, input: input, tokens: tokens, rowScales: rowScales) }
    }

    /// The SwiGLU feed-forward's first half: `gateOut = silu(gate·x) ⊙ (up·x)`, `[tokens × ffn]`.
    /// `upOut` is scratch of the same size. One token without adapters takes the fused
    /// kernel (``GatedFeedForward``, one dispatch with the activation applied by the workers,
    /// bit-identical to the unfused sequence); everything else is two projections and
    /// ``VectorOps/swiglu(_:up:count:)``.
    func projectGated(gate: Projection, up: Projection, input: UnsafePointer<Float>, tokens: Int,
                      decodeStep: Bool, gateOut: UnsafeMutablePointer<Float>, upOut: UnsafeMutablePointer<Float>,
                      activation: Architecture.FeedForwardActivation = .silu, rowScales: AdapterRowScales = .none) {
        if tokens == 1 && activation == .silu && gate.bitLinear == nil && up.bitLinear == nil && gate.adapters.isEmpty && up.adapters.isEmpty && gate.bias == nil && up.bias == nil {
            GatedFeedForward.multiply(gate: gate.weight, up: up.weight, input, into: gateOut, pool: pool, options: options)
            return
        }
        project(Output(gate, into: gateOut), Output(up, into: upOut), input: input, tokens: tokens, decodeStep: decodeStep,
                rowScales: rowScales)
        switch activation {
        case .silu: VectorOps.swiglu(gateOut, up: upOut, count: tokens * gate.rows)
        case .squaredReLU: VectorOps.squaredReLUGate(gateOut, up: upOut, count: tokens * gate.rows)
        }
    }

    /// One projection's base product, whatever its storage.
    private func multiplyAlone(_ output: Output, input: UnsafePointer<Float>, tokens: Int, decodeStep: Bool) {
        let p = output.projection
        let bias = p.bias.map { UnsafePointer($0.pointer) }
        switch p.storage {
        case .matrix:
            MatMul.multiply(target(output), nil, nil, input, tokens: tokens, pool: pool, integerBatch: decodeStep, options: options)
        case .bitLinear(let w):
            BitLinearKernel.multiply(w, input, tokens: tokens, into: output.into, bias: bias, pool: pool)
        }
    }

    private func target(_ output: Output) -> MatMulTarget {
        MatMulTarget(output.projection.weight, output.into, bias: output.projection.bias.map { UnsafePointer($0.pointer) })
    }

    private func addAdapters(_ output: Output, input: UnsafePointer<Float>, tokens: Int, rowScales: AdapterRowScales) {
        let p = output.projection
        for adapter in p.adapters {
            adapter.addProduct(input: input, tokens: tokens, inputColumns: p.columns,
                               output: output.into, outputRows: p.rows, rowScales: rowScales.forAdapter(adapter), pool: pool)
        }
    }
}
