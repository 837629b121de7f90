// Micro-benchmark of the ternary decode kernels against llama.cpp's on the same rows, in one
// process: ns per row of 4096 (LOOM_BENCH_COLUMNS) for
//   - Loom's TQ2_0/TQ1_0 integer kernels (four rows at a time, as decode runs them; AVX2
//     `vpmaddubsw` and the portable multiply-add), the float kernel, and Q4_0's decode kernel;
//   - llama.cpp's `ggml_vec_dot_tq2_0_q8_K`, `ggml_vec_dot_tq1_0_q8_K` and
//     `ggml_vec_dot_q4_0_q8_0` from llama-cpp-python's libggml-cpu.so (dlopen; activations
//     quantised by its own `quantize_row_q8_K` / `quantize_row_q8_0`), one row per call as
//     ggml's matmul calls them on x86.
// Two regimes: 64 rows that stay in L2, and 64 MB of rows streamed from DRAM (what a decode
// step of a large model does). One thread; this thread's CPU time; best of 5 runs of ≥ 0.2 s.
// Not part of the package (no speed assertions anywhere). Build like bench_row_kernels.swift:
//
//   swiftc -Ounchecked -wmo -target-cpu native -enforce-exclusivity=unchecked -parse-as-library \
//       -I Sources/LoomIntrinsics/include -module-name LoomKernels Sources/LoomKernels/*.swift \
//       Sources/LoomKernels/BlockFormats/*.swift Sources/LoomKernels/IntegerDot/*.swift \
//       Sources/LoomKernels/Quantize/*.swift scripts/bench_ternary_kernels.swift -o /tmp/bench_ternary && \
//   LLAMA_LIB=$(python3 -c 'import llama_cpp,os;print(os.path.dirname(llama_cpp.__file__))')/lib /tmp/bench_ternary

#if canImport(Glibc)
import Glibc
#endif

@main
enum BenchTernaryKernels {
    typealias VecDot = @convention(c) (Int32, UnsafeMutablePointer<Float>, Int, UnsafeRawPointer, Int, UnsafeRawPointer, Int, Int32) -> Void
    typealias QuantizeRow = @convention(c) (UnsafePointer<Float>, UnsafeMutableRawPointer, Int64) -> Void

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) * 1e9 + Double(ts.tv_nsec)
    }

    static func main() {
        setvbuf(stdout, nil, _IONBF, 0)
        let n = getenv("LOOM_BENCH_COLUMNS").flatMap { Int(String(cString: $0)) } ?? 4096
        var seed: UInt64 = 0x7E57
        func rand() -> UInt64 { seed = seed &* 6364136223846793005 &+ 1442695040888963407; return seed >> 33 }
        let x = (0..<n).map { _ in Float(Int(rand() % 2001) - 1000) / 1000 }
        let ternary = TernaryActivations(capacity: n)
        x.withUnsafeBufferPointer { ternary.quantize($0.baseAddress!, count: n) }
        let a = ternary.blocks
        let xp = UnsafeMutablePointer<Float>.allocate(capacity: n)
        xp.initialize(from: x, count: n)
        let q = QuantizedActivations(capacity: n)
        x.withUnsafeBufferPointer { q.quantize($0.baseAddress!, count: n) }

        // llama.cpp's kernels, if the library is there.
        let libDir = getenv("LLAMA_LIB").map { String(cString: $0) }
        let lib = libDir.flatMap { dlopen($0 + "/libggml-cpu.so", RTLD_NOW) }
        func symbol<T>(_ name: String, _: T.Type) -> T? {
            guard let lib, let p = dlsym(lib, name) else { return nil }
            return unsafeBitCast(p, to: T.self)
        }
        let q8K = UnsafeMutableRawPointer.allocate(byteCount: n / 256 * 292, alignment: 64)
        let q8_0 = UnsafeMutableRawPointer.allocate(byteCount: n / 32 * 34, alignment: 64)
        if let f = symbol("quantize_row_q8_K", QuantizeRow.self) { x.withUnsafeBufferPointer { f($0.baseAddress!, q8K, Int64(n)) } }
        if let f = symbol("quantize_row_q8_0", QuantizeRow.self) { x.withUnsafeBufferPointer { f($0.baseAddress!, q8_0, Int64(n)) } }
        print(lib == nil ? "llama.cpp: not loaded (set LLAMA_LIB to llama-cpp-python's lib directory)" : "llama.cpp: \(libDir!)/libggml-cpu.so")
        print("vpmaddubsw native: \(TernaryKernels.isNative); columns \(n)")
        print("kernel                           L2 ns/row   DRAM ns/row   DRAM GB/s")

        for t in [GGMLType.tq2_0, .tq1_0, .q4_0] {
            let rowBytes = t.byteCount(elements: n)
            let cachedRows = 64
            let streamedRows = max(64, (64 << 20) / rowBytes) / 4 * 4
            var data = [UInt8](repeating: 0, count: rowBytes * streamedRows)
            for i in data.indices { data[i] = UInt8(truncatingIfNeeded: rand()) }
            let h = floatToHalf(0.01)
            let scaleOffset = t == .tq2_0 ? 64 : t == .tq1_0 ? 52 : 0
            for b in 0..<(streamedRows * n / t.blockSize) {
                data[b * t.blockBytes + scaleOffset] = UInt8(h & 0xFF)
                data[b * t.blockBytes + scaleOffset + 1] = UInt8(h >> 8)
            }
            var sink: Float = 0
            /// Best ns per row over `rows` rows, `step` rows per call of `body`.
            func measure(rows: Int, step: Int, _ body: (UnsafeRawPointer) -> Void) -> Double {
                var best = Double.infinity
                data.withUnsafeBytes { d in
                    for _ in 0..<5 {
                        var done = 0
                        let start = now()
                        var elapsed = 0.0
                        while elapsed < 0.2e9 {
                            var r = 0
                            while r < rows { body(d.baseAddress! + r * rowBytes); r += step }
                            done += rows
                            elapsed = now() - start
                        }
                        best = min(best, elapsed / Double(done))
                    }
                }
                return best
            }
            func report(_ name: String, step: Int, _ body: (UnsafeRawPointer) -> Void) {
                let l2 = measure(rows: cachedRows, step: step, body)
                let dram = measure(rows: streamedRows, step: step, body)
                let label = name + String(repeating: " ", count: max(0, 32 - name.count))
                print(label + " " + fmt(l2, 10) + "   " + fmt(dram, 11) + "   " + fmt(Double(rowBytes) / dram, 9))
            }
            switch t {
            case .tq2_0, .tq1_0:
                report("Loom \(t) 4-row (vpmaddubsw)", step: 4) { sink += TernaryKernels.dotFourRows(t, $0, rowBytes: rowBytes, a, count: n)[1] }
                report("Loom \(t) 4-row (portable)", step: 4) { sink += TernaryKernels.dotFourRows(t, $0, rowBytes: rowBytes, a, count: n, portable: true)[1] }
                report("Loom \(t) float dot", step: 1) { sink += RowKernels.dot(t, $0, xp, count: n) }
                if let f = symbol(t == .tq2_0 ? "ggml_vec_dot_tq2_0_q8_K" : "ggml_vec_dot_tq1_0_q8_K", VecDot.self) {
                    var s: Float = 0
                    report("llama.cpp \(t) vec_dot", step: 1) { f(Int32(n), &s, 0, $0, 0, UnsafeRawPointer(q8K), 0, 1); sink += s }
                }
            default:
                report("Loom Q4_0 integer decode", step: 1) { sink += IntegerRowKernels.dot(.q4_0, $0, q, count: n) }
                if let f = symbol("ggml_vec_dot_q4_0_q8_0", VecDot.self) {
                    var s: Float = 0
                    report("llama.cpp Q4_0 vec_dot", step: 1) { f(Int32(n), &s, 0, $0, 0, UnsafeRawPointer(q8_0), 0, 1); sink += s }
                }
            }
            if sink.isNaN { print("(nan)") }
        }
    }

    static func fmt(_ v: Double, _ w: Int) -> String {
        let s = String(Double(Int(v * 10)) / 10)
        return String(repeating: " ", count: max(0, w - s.count)) + s
    }
}
