// Micro-benchmark of the integer prompt kernel (``IntegerPromptKernel``): one weight matrix
// times a prompt's worth of tokens, through `MatMul.multiply` (activation quantisation,
// tile unpacking and the kernel, on `threads` threads), and the kernel alone on one thread
// with either lane width (``NarrowPromptLanes``: 8 tokens per 256-bit vector;
// ``WidePromptLanes``: 16 per 512-bit vector, the portable loop where the CPU has no
// AVX-512 VNNI) on the same unpacked tile and prepared activations.
//
// Not part of the package (no speed assertions anywhere); compiled together with the
// LoomKernels sources, with the package's release flags:
//
//   swiftc -Ounchecked -wmo -target-cpu native -enforce-exclusivity=unchecked -parse-as-library \
//       -I Sources/LoomIntrinsics/include -module-name LoomKernels Sources/LoomKernels/*.swift Sources/LoomKernels/BlockFormats/*.swift \
//       Sources/LoomKernels/IntegerDot/*.swift Sources/LoomKernels/Quantize/*.swift \
//       scripts/bench_prompt_kernel.swift -o /tmp/bench_prompt && /tmp/bench_prompt [Q4_0 ...] [tokens=256] [rows=1536] \
//       [columns=576] [threads=1]
//
// Prints MAC/ns (rows·columns·tokens per ns of wall time), max and median of 9 passes of
// ≥ 100 ms each.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@main
enum BenchPromptKernel {
    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) * 1e9 + Double(ts.tv_nsec)
    }

    static func main() {
        var types: [GGMLType] = []
        var tokens = 256, rows = 1536, columns = 576, threads = 1
        for arg in CommandLine.arguments.dropFirst() {
            if arg.hasPrefix("tokens=") { tokens = Int(arg.dropFirst(7))! }
            else if arg.hasPrefix("rows=") { rows = Int(arg.dropFirst(5))! }
            else if arg.hasPrefix("columns=") { columns = Int(arg.dropFirst(8))! }
            else if arg.hasPrefix("threads=") { threads = Int(arg.dropFirst(8))! }
            else if let t = GGMLType.allCases.first(where: { $0.description == arg }) { types.append(t) }
        }
        if types.isEmpty { types = [.q4_0, .q5_0, .q8_0] }
        var seed: UInt64 = 0x1234_5678
        func rand() -> UInt64 { seed = seed &* 6364136223846793005 &+ 1442695040888963407; return seed >> 33 }
        let x = (0..<tokens * columns).map { _ in Float(Int(rand() % 2001) - 1000) / 1000 }
        var y = [Float](repeating: 0, count: tokens * rows)
        let pool = ThreadPool(threadCount: threads)
        let macs = Double(rows * columns * tokens)
        print("\(rows)×\(columns) × \(tokens) tokens, MAC/ns max / median; MatMul on \(threads) thread(s), kernels on one; 16 lanes native: \(IntegerPromptKernel.isWide)")
        for t in types {
            let src = (0..<rows * columns).map { _ in Float(Int(rand() % 2001) - 1000) / 1000 }
            var data = [UInt8](repeating: 0, count: t.byteCount(elements: columns) * rows)
            data.withUnsafeMutableBytes { d in
                src.withUnsafeBufferPointer { s in RowQuantizer.quantize(t, s.baseAddress!, into: d.baseAddress!, count: rows * columns) }
            }
            let tile = UnsafeMutableRawPointer.allocate(byteCount: 4 * IntegerPromptKernel.tileWords(rows: rows, columns: columns), alignment: 64)
            let prepared = UnsafeMutableRawPointer.allocate(
                byteCount: 4 * IntegerPromptKernel.preparedWords(tokens: tokens, columns: columns, lanes: 16) + 64, alignment: 64)
            defer { tile.deallocate(); prepared.deallocate() }
            data.withUnsafeBytes { d in
                let w = WeightMatrix(type: t, rows: rows, columns: columns, base: d.baseAddress!)
                IntegerPromptKernel.unpack(w, rows: 0..<rows, into: tile)
                x.withUnsafeBufferPointer { xp in
                    y.withUnsafeMutableBufferPointer { yp in
                        let whole = measure(macs) { MatMul.multiply(w, xp.baseAddress!, tokens: tokens, into: yp.baseAddress!, pool: pool) }
                        func kernel<G: PromptLaneGroup>(_: G.Type) -> String {
                            IntegerPromptKernel.prepare(xp.baseAddress!, tokens: tokens, columns: columns, into: prepared, lanes: G.lanes)
                            return measure(macs) {
                                IntegerPromptKernel.multiplyTile(G.self, tile, rows: rows, columns: columns, prepared, tokens: tokens,
                                                                 into: yp.baseAddress!, ldy: rows, firstRow: 0, bias: nil)
                            }
                        }
                        print("\(t)  MatMul \(whole)   kernel 8 lanes \(kernel(NarrowPromptLanes.self))   16 lanes \(kernel(WidePromptLanes.self))")
                    }
                }
            }
        }
    }

    /// MAC/ns of `body` (`macs` multiply-adds per call), max / median of 9 passes of ≥ 100 ms.
    static func measure(_ macs: Double, _ body: () -> Void) -> String {
        var rates: [Double] = []
        for _ in 0..<9 {
            var calls = 0
            let start = now()
            var elapsed = 0.0
            while elapsed < 0.1e9 { body(); calls += 1; elapsed = now() - start }
            rates.append(macs * Double(calls) / elapsed)
        }
        rates.sort()
        return "\(fmt(rates.last!)) / \(fmt(rates[rates.count / 2]))"
    }

    static func fmt(_ v: Double) -> String { String(Double(Int(v * 10)) / 10) }
}
