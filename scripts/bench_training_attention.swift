// Micro-benchmark of the training attention (Sources/LoomTraining/Backward/TiledAttention.swift)
// at SmolLM2-135M's shape (9 query heads, 3 KV heads, head size 64) on one thread: forward
// and backward of one layer, in milliseconds of this thread's CPU time (best / median of 7),
// and GFLOPS counting the causal half of each product (forward 2 products, backward 5).
//
// Not part of the package (no speed assertions anywhere); compiled with the LoomKernels
// sources and the attention files, with the package's release flags:
//
//   swiftc -Ounchecked -wmo -target-cpu native -enforce-exclusivity=unchecked -parse-as-library \
//       -I Sources/LoomIntrinsics/include -module-name LoomKernels Sources/LoomKernels/*.swift Sources/LoomKernels/BlockFormats/*.swift \
//       Sources/LoomKernels/IntegerDot/*.swift Sources/LoomKernels/Quantize/*.swift \
//       Sources/LoomTraining/Backward/{TiledAttention,TileProduct,AttentionOp,TrainingKernels,TrainingScalar}.swift \
//       scripts/bench_training_attention.swift -o /tmp/bench_attention && /tmp/bench_attention [tokens=512]

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@main
enum BenchTrainingAttention {
    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    static func main() {
        var n = 512
        for arg in CommandLine.arguments.dropFirst() where arg.hasPrefix("tokens=") { n = Int(arg.dropFirst(7))! }
        let heads = 9, kvHeads = 3, hd = 64
        let tiled = TiledAttention(AttentionOp(heads: heads, kvHeads: kvHeads, headDim: hd))
        var seed: UInt64 = 0x1234_5678
        func rand() -> Float { seed = seed &* 6364136223846793005 &+ 1442695040888963407; return Float(Int((seed >> 33) % 2001) - 1000) / 1000 }
        let q = (0..<n * heads * hd).map { _ in rand() }, k = (0..<n * kvHeads * hd).map { _ in rand() }
        let v = (0..<n * kvHeads * hd).map { _ in rand() }, dOut = (0..<n * heads * hd).map { _ in rand() }
        var out = [Float](repeating: 0, count: n * heads * hd), lse = [Float](repeating: 0, count: n * heads)
        var dq = out, dk = k, dv = v
        let pool = ThreadPool(threadCount: 1)
        let product = Double(heads) * Double(n) * Double(n + 1) / 2 * Double(hd) * 2
        func measure(_ flops: Double, _ body: () -> Void) -> String {
            var times: [Double] = []
            for _ in 0..<7 {
                let start = now()
                body()
                times.append(now() - start)
            }
            times.sort()
            let best = times[0], median = times[times.count / 2]
            return String(format: "%.2f / %.2f ms (%.1f GFLOPS at the median)", best * 1e3, median * 1e3, flops / median / 1e9)
        }
        let fwd = measure(2 * product) {
            tiled.forward(q: q, k: k, v: v, n: n, out: &out, lse: &lse, pool: pool)
        }
        let bwd = measure(5 * product) {
            tiled.backward(dOut: dOut, q: q, k: k, v: v, out: out, lse: lse, n: n, dq: &dq, dk: &dk, dv: &dv, pool: pool)
        }
        print("n=\(n), 9/3 heads × 64, one thread: forward \(fwd); backward \(bwd)")
    }
}
