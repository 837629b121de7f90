import LoomFormats
import LoomKernels

/// One LoRA module attached to one projection: adds `u·s·B·(A·x)` to the base product,
/// unmerged, whatever the base weight's type (PEFT `lora.Linear.forward`; llama.cpp
/// `llm_build_lora_mm`), where `s` is the module's `alpha/r` and `u` the user's scale — the
/// attachment's, or per row when the rows of a batch belong to requests that chose their own
/// (``AdapterRowScales``). With DoRA (PEFT `DoraLinearLayer.forward`) the row magnitudes
/// rescale the whole output: `y ← y + (g−1)·(y − bias) + g·u·s·B·A·x` with
/// `g = m / ‖W + u·s·B·A‖` per output row.
///
/// Shapes: `a` is `[rank × inputs]` row-major; `b` is kept transposed, `[rank × outputs]`,
/// so the second product is `rank` contiguous `axpy`s over the output row.
///
/// On a quantised base (not DoRA) the factors are kept as halves: at single-token decode
/// reading them is most of the adapter's cost, and half precision (relative error 2⁻¹¹) is
/// far finer than the base's own quantisation. Float bases keep f32 factors, so the float
/// path matches PEFT to float rounding.
final class LoRADelta: ProjectionAdapter, @unchecked Sendable {
    /// Which attachment this module belongs to (``LanguageModel/loraAdapters``).
    let adapterID: Int
    var selectionID: Int? { adapterID }
    let rank: Int
    let inputs: Int
    let outputs: Int
    /// `alpha / r` (or `/ √r`): the module's own scale.
    let moduleScale: Float
    /// The attachment's scale, used for rows without a scale of their own. Changed only
    /// between forward passes (``LanguageModel/setLoRAScale(id:scale:)``).
    private(set) var userScale: Float
    /// The factors, `a` `[rank × inputs]` and `bTransposed` `[rank × outputs]`, in f32 or (on
    /// a quantised base) only as halves.
    private enum Factors {
        case float(a: UnsafeMutablePointer<Float>, bTransposed: UnsafeMutablePointer<Float>)
        case half(a: UnsafeMutablePointer<UInt16>, bTransposed: UnsafeMutablePointer<UInt16>)
    }
    private let factors: Factors
    var halfFactors: Bool {
        if case .half = factors { return true }
        return false
    }
    /// DoRA: the magnitudes `m` (`[outputs]`), the base weight and bias, and `g` per user scale.
    private let magnitude: [Float]?
    private let base: Projection
    private var magnitudeScales: [Float: [Float]] = [:]

    /// `rows` selects the output rows of `module` this delta covers (a slice of a fused
    /// projection, e.g. the K rows of Phi-3's `qkv_proj`); `module.b` is `[module.outputs × rank]`.
    init(adapterID: Int, module: LoRAAdapter.Module, rows: Range<Int>, userScale: Float, base: Projection) {
        self.adapterID = adapterID
        let rank = module.rank, inputs = module.inputs, outputs = rows.count
        self.rank = rank
        self.inputs = inputs
        self.outputs = outputs
        moduleScale = module.scale
        self.userScale = userScale
        self.base = base
        let a = UnsafeMutablePointer<Float>.allocate(capacity: rank * inputs)
        module.a.withUnsafeBufferPointer { a.initialize(from: $0.baseAddress!, count: rank * inputs) }
        let bTransposed = UnsafeMutablePointer<Float>.allocate(capacity: rank * outputs)
        for (o, row) in rows.enumerated() {
            for j in 0..<rank { bTransposed[j * outputs + o] = module.b[row * rank + j] }
        }
        let quantizedBase = ![.f32, .f16, .bf16].contains(base.weight.type)
        if quantizedBase && module.magnitude == nil {
            let ah = UnsafeMutablePointer<UInt16>.allocate(capacity: rank * inputs)
            for i in 0..<rank * inputs { ah[i] = floatToHalf(a[i]) }
            let bh = UnsafeMutablePointer<UInt16>.allocate(capacity: rank * outputs)
            for i in 0..<rank * outputs { bh[i] = floatToHalf(bTransposed[i]) }
            a.deallocate()
            bTransposed.deallocate()
            factors = .half(a: ah, bTransposed: bh)
        } else {
            factors = .float(a: a, bTransposed: bTransposed)
        }
        magnitude = module.magnitude.map { Array($0[rows]) }
        if magnitude != nil { _ = magnitudeScale(for: userScale) }
    }

    deinit {
        switch factors {
        case .float(let a, let bTransposed):
            a.deallocate()
            bTransposed.deallocate()
        case .half(let a, let bTransposed):
            a.deallocate()
            bTransposed.deallocate()
        }
    }

    var isDoRA: Bool { magnitude != nil }

    /// Sets the attachment's scale (DoRA's `g` for it is computed now, not mid-pass).
    func setUserScale(_ scale: Float) {
        userScale = scale
        if magnitude != nil { _ = magnitudeScale(for: scale) }
    }

    /// Prepares DoRA's `g` for every scale in `scales` before a pass that uses them.
    func prepare(scales: some Sequence<Float>) {
        guard magnitude != nil else { return }
        for s in scales where s != 0 { _ = magnitudeScale(for: s) }
    }

    /// DoRA's `g = m / ‖W + u·s·B·A‖` for user scale `u` (PEFT `get_weight_norm`), cached.
    private func magnitudeScale(for u: Float) -> [Float] {
        if let g = magnitudeScales[u] { return g }
        // DoRA modules always keep float factors (see init).
        guard case .float(let a, let bTransposed) = factors else { preconditionFailure("DoRA factors are f32") }
        let w = base.weight, scale = u * moduleScale
        var row = [Float](repeating: 0, count: w.columns), g = [Float](repeating: 0, count: outputs)
        row.withUnsafeMutableBufferPointer { r in
            for o in 0..<outputs {
                w.dequantizeRow(o, into: r.baseAddress!)
                for j in 0..<rank {
                    VectorOps.axpy(scale * bTransposed[j * outputs + o], a + j * inputs, r.baseAddress!, count: inputs)
                }
                var sum: Double = 0
                for v in r { sum += Double(v) * Double(v) }
                g[o] = magnitude![o] / Float(sum.squareRoot())
            }
        }
        magnitudeScales[u] = g
        return g
    }

    func addProduct(input: UnsafePointer<Float>, tokens: Int, inputColumns: Int,
                    output: UnsafeMutablePointer<Float>, outputRows: Int, rowScales: UnsafePointer<Float>?, pool: ThreadPool) {
        precondition(inputColumns == inputs && outputRows == outputs, "LoRA shape checked at attach")
        // Look DoRA's factors up before any parallel section (the cache is not thread-safe).
        var doraScales: [Float: [Float]] = [:]
        if isDoRA {
            for t in 0..<tokens {
                let u = rowScales?[t] ?? userScale
                if u != 0, doraScales[u] == nil { doraScales[u] = magnitudeScale(for: u) }
            }
        }
        // A decode step is ~rank·(inputs+outputs) multiply-adds: far less than a pool dispatch
        // costs, so small batches run on the calling thread.
        let work = tokens * rank * (inputs + outputs)
        if work < 1 << 20 || pool.threadCount == 1 {
            addRows(0..<tokens, input: input, output: output, rowScales: rowScales, doraScales: doraScales)
        } else {
            pool.parallelFor(count: tokens, chunk: pool.chunkSize(for: tokens)) { range, _ in
                addRows(range, input: input, output: output, rowScales: rowScales, doraScales: doraScales)
            }
        }
    }

    private func addRows(_ tokens: Range<Int>, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
                         rowScales: UnsafePointer<Float>?, doraScales: [Float: [Float]]) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: rank + (isDoRA ? outputs : 0)) { scratch in
            let projected = scratch.baseAddress!                 // [rank]: A·x
            for t in tokens {
                let u = rowScales?[t] ?? userScale
                if u == 0 { continue }                           // this row's request does not use the adapter
                let scale = u * moduleScale
                let x = input + t * inputs, y = output + t * outputs
                let a: UnsafeMutablePointer<Float>, bTransposed: UnsafeMutablePointer<Float>
                switch factors {
                case .half(let aHalf, let bTransposedHalf):
                    for j in 0..<rank { projected[j] = HalfVectorOps.dot(aHalf + j * inputs, x, count: inputs) }
                    for j in 0..<rank where projected[j] != 0 {
                        HalfVectorOps.axpy(scale * projected[j], bTransposedHalf + j * outputs, y, count: outputs)
                    }
                    continue
                case .float(let af, let bf):
                    (a, bTransposed) = (af, bf)
                }
                for j in 0..<rank { projected[j] = Self.dot(a + j * inputs, x, count: inputs) }
                guard let g = doraScales[u] else {
                    for j in 0..<rank where projected[j] != 0 {
                        VectorOps.axpy(scale * projected[j], bTransposed + j * outputs, y, count: outputs)
                    }
                    continue
                }
                let lora = projected + rank                      // [outputs]: u·s·B·A·x
                lora.update(repeating: 0, count: outputs)
                for j in 0..<rank { VectorOps.axpy(scale * projected[j], bTransposed + j * outputs, lora, count: outputs) }
                let bias = base.bias?.pointer
                for o in 0..<outputs {
                    let baseResult = y[o] - (bias?[o] ?? 0)
                    y[o] += (g[o] - 1) * baseResult + g[o] * lora[o]
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
