// Micro-benchmark of small-batch matrix products (a server decode step): `MatMul.multiply`
// of one weight matrix with 1…15 tokens on one thread, the float path (dequantised tile ×
// `dot4x4`) against the integer batch kernels (``IntegerBatchKernels``) and the lane kernel
// (``IntegerLaneBatchKernel``), and for scale the single-token integer kernel run once per
// token; the last two without and with software prefetch of the weights (WeightPrefetch.swift;
// compiled without `-I Sources/LoomIntrinsics/include` there is no prefetch, and both agree).
//
// Not part of the package (no speed assertions anywhere); compiled together with the
// LoomKernels sources, with the package's release flags:
//
//   swiftc -Ounchecked -wmo -target-cpu native -enforce-exclusivity=unchecked -parse-as-library \
//       -I Sources/LoomIntrinsics/include -module-name LoomKernels Sources/LoomKernels/*.swift Sources/LoomKernels/BlockFormats/*.swift \
//       Sources/LoomKernels/IntegerDot/*.swift Sources/LoomKernels/Quantize/*.swift \
//       scripts/bench_batch_kernels.swift -o /tmp/bench_batch && /tmp/bench_batch [Q4_1 ...] [tokens=8] [rows=1536] [columns=576] \
//       [copies=1] [threads=1]
//
// Prints MAC/ns (rows·columns·tokens per ns of this thread's CPU time; of wall time with
// threads=2 or more), max and median of 15 passes of ≥ 50 ms each. copies=40 cycles through
// 40 distinct matrices, so the weights come from memory as in a real decode step.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@main
enum BenchBatchKernels {
    /// This thread's CPU time, or wall time when the products run on several threads.
    nonisolated(unsafe) static var wallClock = false

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(wallClock ? CLOCK_MONOTONIC : CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) * 1e9 + Double(ts.tv_nsec)
    }

    static func main() {
        var types: [GGMLType] = []
        var tokens = 8, rows = 1536, columns = 576, copies = 1, threads = 1
        for arg in CommandLine.arguments.dropFirst() {
            if arg.hasPrefix("tokens=") { tokens = Int(arg.dropFirst(7))! }
            else if arg.hasPrefix("rows=") { rows = Int(arg.dropFirst(5))! }
            else if arg.hasPrefix("columns=") { columns = Int(arg.dropFirst(8))! }
            else if arg.hasPrefix("copies=") { copies = Int(arg.dropFirst(7))! }
            else if arg.hasPrefix("threads=") { threads = Int(arg.dropFirst(8))! }
            else if let t = GGMLType.allCases.first(where: { $0.description == arg }) { types.append(t) }
        }
        if types.isEmpty { types = [.q4_1, .q8_0, .q4_0, .q5_0, .q5_1] }
        var seed: UInt64 = 0x1234_5678
        func rand() -> UInt64 { seed = seed &* 6364136223846793005 &+ 1442695040888963407; return seed >> 33 }
        let x = (0..<tokens * columns).map { _ in Float(Int(rand() % 2001) - 1000) / 1000 }
        var y = [Float](repeating: 0, count: tokens * rows)
        let pool = ThreadPool(threadCount: threads)
        wallClock = threads > 1
        print("\(rows)×\(columns) × \(tokens) tokens, \(copies) copies, \(threads) thread(s), MAC/ns max / median")
        for t in types {
            let src = (0..<rows * columns).map { _ in Float(Int(rand() % 2001) - 1000) / 1000 }
            // `copies` distinct matrices cycled through (copies=40 ≈ a model that does not fit in cache).
            let matrixBytes = t.byteCount(elements: columns) * rows
            var data = [UInt8](repeating: 0, count: matrixBytes * copies)
            data.withUnsafeMutableBytes { d in
                src.withUnsafeBufferPointer { s in
                    for c in 0..<copies { RowQuantizer.quantize(t, s.baseAddress!, into: d.baseAddress! + c * matrixBytes, count: rows * columns) }
                }
            }
            var next = 0
            let macs = Double(rows * columns * tokens)
            func measure(_ body: () -> Void) -> (Double, Double) {
                var rates: [Double] = []
                for _ in 0..<15 {
                    var calls = 0
                    let start = now()
                    var elapsed = 0.0
                    while elapsed < 0.05e9 { body(); calls += 1; elapsed = now() - start }
                    rates.append(macs * Double(calls) / elapsed)
                }
                rates.sort()
                return (rates.last!, rates[rates.count / 2])
            }
            data.withUnsafeBytes { d in
                func matrix() -> WeightMatrix {
                    next = (next + 1) % copies
                    return WeightMatrix(type: t, rows: rows, columns: columns, base: d.baseAddress! + next * matrixBytes)
                }
                x.withUnsafeBufferPointer { xp in
                    y.withUnsafeMutableBufferPointer { yp in
                        var float = KernelOptions.smallBatchKernels; float.integerBatch = false
                        var noLane = KernelOptions.smallBatchKernels; noLane.laneBatch = false
                        // The lane kernel and the single-token kernel without and with
                        // software prefetch of the weight rows (WeightPrefetch.swift).
                        var noPrefetch = KernelOptions.smallBatchKernels
                        (noPrefetch.lanePrefetchDistance, noPrefetch.decodePrefetchDistance, noPrefetch.longRunPrefetchDistance) = (0, 0, 0)
                        let old = measure { MatMul.multiply(matrix(), xp.baseAddress!, tokens: tokens, into: yp.baseAddress!, pool: pool, options: float) }
                        let new = measure { MatMul.multiply(matrix(), xp.baseAddress!, tokens: tokens, into: yp.baseAddress!, pool: pool, batch: .decode, options: noLane) }
                        let lane = measure { MatMul.multiply(matrix(), xp.baseAddress!, tokens: tokens, into: yp.baseAddress!, pool: pool, batch: .decode, options: noPrefetch) }
                        func singles(_ options: KernelOptions) {
                            let w = matrix()
                            for k in 0..<tokens { MatMul.multiply(w, xp.baseAddress! + k * columns, tokens: 1, into: yp.baseAddress! + k * rows, pool: pool, options: options) }
                        }
                        let single = measure { singles(noPrefetch) }
                        let lanePrefetched = measure { MatMul.multiply(matrix(), xp.baseAddress!, tokens: tokens, into: yp.baseAddress!, pool: pool, batch: .decode, options: .smallBatchKernels) }
                        let singlePrefetched = measure { singles(.default) }
                        // The batch-invariant default: one-token kernels per token over L1/L2 tiles.
                        let invariant = measure { MatMul.multiply(matrix(), xp.baseAddress!, tokens: tokens, into: yp.baseAddress!, pool: pool, batch: .decode) }
                        // The prompt kernels at this batch size (what batch-invariant prompt rows take).
                        let prompt = measure { MatMul.multiply(matrix(), xp.baseAddress!, tokens: tokens, into: yp.baseAddress!, pool: pool, batch: .prompt) }
                        func f(_ v: (Double, Double)) -> String { "\(fmt(v.0)) / \(fmt(v.1))" }
                        print("\(t)  float \(f(old))   integer batch \(f(new))   lanes \(f(lane)), prefetched \(f(lanePrefetched))   \(tokens)× single-token \(f(single)), prefetched \(f(singlePrefetched))   batch-invariant \(f(invariant))   prompt kernel \(f(prompt))")
                    }
                }
            }
        }
    }

    static func fmt(_ v: Double) -> String { String(Double(Int(v * 10)) / 10) }
}
