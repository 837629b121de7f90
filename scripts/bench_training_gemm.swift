// Micro-benchmark of the training GEMM (Sources/LoomTraining/Backward/TrainingGEMM.swift) at
// SmolLM2-135M's shapes with 512 tokens, on one thread, against the inference path the
// trainer used before for the forward product (`MatMul.multiply`, float activations).
// Compare with scripts/bench_training_gemm_torch.py (PyTorch's single-thread matmul).
//
// Not part of the package (no speed assertions anywhere); compiled together with the
// LoomKernels sources, with the package's release flags:
//
//   swiftc -Ounchecked -wmo -target-cpu native -enforce-exclusivity=unchecked -parse-as-library \
//       -I Sources/LoomIntrinsics/include -module-name LoomKernels Sources/LoomKernels/*.swift Sources/LoomKernels/BlockFormats/*.swift \
//       Sources/LoomKernels/IntegerDot/*.swift Sources/LoomKernels/Quantize/*.swift \
//       Sources/LoomTraining/Backward/TrainingGEMM.swift scripts/bench_training_gemm.swift -o /tmp/bench_gemm \
//       && /tmp/bench_gemm [F32 Q4_1 ...] [tokens=512] [head]
//
// (The compiler warns that TrainingGEMM.swift's `import LoomKernels` is ignored.) Prints
// GFLOPS (2·M·N·K per second of this thread's CPU time), best and median of 5 passes of
// ≥ 0.2 s each; `head` adds the 49152×576 LM head.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@main
enum BenchTrainingGEMM {
    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    static func main() {
        var types: [GGMLType] = []
        var tokens = 512
        var shapes = [(576, 576), (192, 576), (1536, 576), (576, 1536)]
        for arg in CommandLine.arguments.dropFirst() {
            if arg.hasPrefix("tokens=") { tokens = Int(arg.dropFirst(7))! }
            else if arg == "head" { shapes.append((49152, 576)) }
            else if let t = GGMLType.allCases.first(where: { $0.description == arg }) { types.append(t) }
        }
        if types.isEmpty { types = [.f32, .q4_1, .q8_0] }
        var seed: UInt64 = 0x1234_5678
        func rand() -> Float { seed = seed &* 6364136223846793005 &+ 1442695040888963407; return Float(Int((seed >> 33) % 2001) - 1000) / 1000 }
        let pool = ThreadPool(threadCount: 1)
        print("M=\(tokens), one thread, GFLOPS best / median (CPU time)")
        for t in types {
            for (n, k) in shapes {
                let src = (0..<n * k).map { _ in rand() }
                var data = [UInt8](repeating: 0, count: t.byteCount(elements: k) * n)
                data.withUnsafeMutableBytes { d in
                    src.withUnsafeBufferPointer { RowQuantizer.quantize(t, $0.baseAddress!, into: d.baseAddress!, count: n * k) }
                }
                let x = (0..<tokens * k).map { _ in rand() }
                let dy = (0..<tokens * n).map { _ in rand() }
                var y = [Float](repeating: 0, count: tokens * n)
                var dx = [Float](repeating: 0, count: tokens * k)
                let flops = 2 * Double(tokens * n * k)
                func measure(_ body: () -> Void) -> String {
                    var rates: [Double] = []
                    for _ in 0..<5 {
                        var calls = 0
                        let start = now()
                        var elapsed = 0.0
                        while elapsed < 0.2 { body(); calls += 1; elapsed = now() - start }
                        rates.append(flops * Double(calls) / elapsed / 1e9)
                    }
                    rates.sort()
                    return "\(fmt(rates.last!)) / \(fmt(rates[rates.count / 2]))"
                }
                data.withUnsafeBytes { raw in
                    let w = WeightMatrix(type: t, rows: n, columns: k, base: raw.baseAddress!)
                    let fwd = measure {
                        TrainingGEMM.multiply(x, rows: tokens, lda: k, w, form: .transposed, into: &y, ldc: n, accumulate: false, pool: pool)
                    }
                    let bwd = measure {
                        TrainingGEMM.multiply(dy, rows: tokens, lda: n, w, form: .plain, into: &dx, ldc: k, accumulate: true, pool: pool)
                    }
                    let old = measure {
                        MatMul.multiply(MatMulTarget(w, &y), nil, nil, x, tokens: tokens, pool: pool)
                    }
                    print("\(t) N×K=\(n)×\(k): x·Wᵀ \(fwd)   dy·W \(bwd)   MatMul.multiply (before) \(old)")
                }
            }
        }
    }

    static func fmt(_ v: Double) -> String {
        let s = "\((v * 10).rounded() / 10)"
        return s
    }
}
