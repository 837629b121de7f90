// Micro-benchmark of the row kernels: ns per 4096-element row for the float `dot` and
// `dequantize` of RowKernels, per type, and for the integer dot of IntegerRowKernels
// (activations quantised once), as used for decode; for the 32-element formats and the
// K-quants also the 16-bit integer kernel and (on hosts with a native byte dot, or AVX2's byte
// multiply-add) the byte-dot kernel on their own, whichever of the two `dot` uses, and the four-row kernel decode uses (per row: the byte
// dot, or for Q4_1/Q5_1 without it the offset kernel of IntegerDotOffset.swift).
// LOOM_BENCH_COLUMNS sets the row length (default 4096).
//
// Not part of the package (no speed assertions anywhere); it is compiled together with the
// LoomKernels sources into one throwaway executable, with the package's release flags:
//
//   swiftc -Ounchecked -wmo -target-cpu native -enforce-exclusivity=unchecked -parse-as-library \
//       -I Sources/LoomIntrinsics/include -module-name LoomKernels Sources/LoomKernels/*.swift \
//       Sources/LoomKernels/BlockFormats/*.swift Sources/LoomKernels/IntegerDot/*.swift \
//       Sources/LoomKernels/Quantize/*.swift scripts/bench_row_kernels.swift -o /tmp/bench_row_kernels && /tmp/bench_row_kernels [Q4_K ...]
//
// Each measurement walks 64 distinct rows (all in L2) so the loads are realistic for a
// matvec over a cached slice of a weight matrix, repeated until ~0.2 s have passed; the
// best of 5 such runs is reported. Time is this thread's CPU time, so other processes on a
// busy machine inflate it less than wall time would. Memory bandwidth for a whole model is a
// separate matter.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@main
enum BenchRowKernels {
    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) * 1e9 + Double(ts.tv_nsec)
    }

    /// Offsets of the fp16 scale fields in a block (kept sane: random bits could be inf/NaN).
    static func halfOffsets(_ t: GGMLType) -> [Int] {
        switch t {
        case .f32, .f16, .bf16, .i8: return []
        case .q4_0, .q5_0, .q8_0: return [0]
        case .q4_1, .q5_1, .q4_K, .q5_K: return [0, 2]
        case .q2_K: return [80, 82]
        case .q3_K: return [108]
        case .q6_K: return [208]
        case .tq1_0: return [52]
        case .tq2_0: return [64]
        }
    }

    static func main() {
        // LOOM_BENCH_COLUMNS: the row length (default 4096; SmolLM2's rows are 576 and 1536).
        let n = getenv("LOOM_BENCH_COLUMNS").flatMap { Int(String(cString: $0)) } ?? 4096
        let rows = 64
        var seed: UInt64 = 0x1234_5678
        func rand() -> UInt64 { seed = seed &* 6364136223846793005 &+ 1442695040888963407; return seed >> 33 }
        let x = (0..<n).map { _ in Float(Int(rand() % 2001) - 1000) / 1000 }
        var out = [Float](repeating: 0, count: n)
        // Optional arguments: type names to run (e.g. `Q4_K Q6_K`); default all.
        let only = Set(CommandLine.arguments.dropFirst())
        let quantized = QuantizedActivations(capacity: n)
        x.withUnsafeBufferPointer { quantized.quantize($0.baseAddress!, count: n) }
        print("type   bytes/row   dot ns/row   dequant ns/row   dot GB/s   int ns/row   int GB/s   16-bit ns/row   byte ns/row   4-row ns/row")
        for t in GGMLType.allCases where only.isEmpty || only.contains(t.description) {
            let rowBytes = t.byteCount(elements: n)
            var data = [UInt8](repeating: 0, count: rowBytes * rows)
            for i in data.indices { data[i] = UInt8(truncatingIfNeeded: rand()) }
            if t == .f32 || t == .f16 || t == .bf16 {
                for r in 0..<rows * n {
                    let f = Float(Int(rand() % 2001) - 1000) / 1000
                    switch t {
                    case .f32: withUnsafeBytes(of: f) { b in for k in 0..<4 { data[4 * r + k] = b[k] } }
                    case .f16: let h = floatToHalf(f); data[2 * r] = UInt8(h & 0xFF); data[2 * r + 1] = UInt8(h >> 8)
                    default: let h = floatToBF16(f); data[2 * r] = UInt8(h & 0xFF); data[2 * r + 1] = UInt8(h >> 8)
                    }
                }
            } else {
                let h = floatToHalf(0.01)
                for b in 0..<rows * n / t.blockSize {
                    for off in halfOffsets(t) {
                        data[b * t.blockBytes + off] = UInt8(h & 0xFF)
                        data[b * t.blockBytes + off + 1] = UInt8(h >> 8)
                    }
                }
            }
            var sink: Float = 0
            func measure(_ body: (UnsafeRawPointer) -> Void) -> Double {
                var best = Double.infinity
                data.withUnsafeBytes { d in
                    for _ in 0..<5 {
                        var calls = 0
                        let start = now()
                        var elapsed = 0.0
                        while elapsed < 0.2e9 {
                            for r in 0..<rows { body(d.baseAddress! + r * rowBytes) }
                            calls += rows
                            elapsed = now() - start
                        }
                        best = min(best, elapsed / Double(calls))
                    }
                }
                return best
            }
            let dotNs = x.withUnsafeBufferPointer { xp in
                measure { sink += RowKernels.dot(t, $0, xp.baseAddress!, count: n) }
            }
            let deqNs = out.withUnsafeMutableBufferPointer { op in
                measure { RowKernels.dequantize(t, $0, into: op.baseAddress!, count: n); sink += op[7] }
            }
            let intNs = IntegerRowKernels.supports(t) ? measure { sink += IntegerRowKernels.dot(t, $0, quantized, count: n) } : .nan
            // The 32-element formats: the 16-bit integer kernel and the byte-dot kernel
            // separately, whichever of them `dot` dispatches to on this host.
            let blocks = ActivationBlocks(quantized)
            let sixteenBitNs: Double, byteNs: Double
            var fourRowNs = Double.nan
            func fourRows<K: ByteDotBlock>(_: K.Type) -> Double {
                guard IntegerRowKernels.hasFourRowKernel(t) else { return .nan }
                var r = 0
                return measure { row in
                    // `measure` walks rows in order: every fourth call takes four rows.
                    if r & 3 == 0 { sink += IntegerRowKernels.dotFourRows(t, row, rowBytes: rowBytes, blocks, count: n)[1] }
                    r += 1
                }
            }
            switch t {
            case .q4_0:
                sixteenBitNs = measure { sink += pairwiseDot(BlockQ4_0.self, $0, blocks, blocks: n / 32) }
                byteNs = measure { sink += byteDotRow(BlockQ4_0.self, $0, blocks, blocks: n / 32) }
                fourRowNs = fourRows(BlockQ4_0.self)
            case .q4_1:
                sixteenBitNs = measure { sink += offsetDot(BlockQ4_1.self, $0, blocks, blocks: n / 32) }
                byteNs = measure { sink += byteDotRow(BlockQ4_1.self, $0, blocks, blocks: n / 32) }
                fourRowNs = fourRows(BlockQ4_1.self)
            case .q5_0:
                sixteenBitNs = measure { sink += pairwiseDot(BlockQ5_0.self, $0, blocks, blocks: n / 32) }
                byteNs = measure { sink += byteDotRow(BlockQ5_0.self, $0, blocks, blocks: n / 32) }
                fourRowNs = fourRows(BlockQ5_0.self)
            case .q5_1:
                sixteenBitNs = measure { sink += offsetDot(BlockQ5_1.self, $0, blocks, blocks: n / 32) }
                byteNs = measure { sink += byteDotRow(BlockQ5_1.self, $0, blocks, blocks: n / 32) }
                fourRowNs = fourRows(BlockQ5_1.self)
            case .q8_0:
                sixteenBitNs = measure { sink += pairwiseDot(BlockQ8_0.self, $0, blocks, blocks: n / 32) }
                byteNs = .nan
            // The K-quants: the 16-bit kernel and the byte-plane kernel (AVX2's vpmaddubsw)
            // separately, whichever `dot` uses on this host.
            case .q4_K:
                sixteenBitNs = measure { sink += BlockQ4_K.dotSixteenBit($0, blocks, blocks: n / 256) }
                byteNs = quantized.splitsCodes ? measure { sink += BlockQ4_K.dotBytes($0, blocks, blocks: n / 256) } : .nan
            case .q5_K:
                sixteenBitNs = measure { sink += BlockQ5_K.dotSixteenBit($0, blocks, blocks: n / 256) }
                byteNs = quantized.splitsCodes ? measure { sink += BlockQ5_K.dotBytes($0, blocks, blocks: n / 256) } : .nan
            case .q6_K:
                sixteenBitNs = measure { sink += BlockQ6_K.dotSixteenBit($0, blocks, blocks: n / 256) }
                byteNs = quantized.splitsCodes ? measure { sink += BlockQ6_K.dotBytes($0, blocks, blocks: n / 256) } : .nan
            default:
                sixteenBitNs = .nan
                byteNs = .nan
            }
            let name = t.description + String(repeating: " ", count: max(0, 6 - t.description.count))
            let intText = intNs.isNaN ? "" : "   \(pad(Int(intNs.rounded()), 10))   \(pad1(Double(rowBytes) / intNs, 8))"
            let pairwiseText = (sixteenBitNs.isNaN ? "" : "   \(pad(Int(sixteenBitNs.rounded()), 13))")
                + (byteNs.isNaN || !IntegerDotBytes.isFast ? "   \(pad(0, 11))" : "   \(pad(Int(byteNs.rounded()), 11))")
                + (IntegerRowKernels.hasFourRowKernel(t) ? "   \(pad(Int(fourRowNs.rounded()), 12))" : "")
            print("\(name) \(pad(rowBytes, 10))   \(pad(Int(dotNs.rounded()), 10))   \(pad(Int(deqNs.rounded()), 14))   \(pad1(Double(rowBytes) / dotNs, 8))" + intText + pairwiseText)
            if sink.isNaN { print("(nan)") }
        }
    }

    static func pad(_ v: Int, _ w: Int) -> String { String(repeating: " ", count: max(0, w - String(v).count)) + String(v) }
    static func pad1(_ v: Double, _ w: Int) -> String {
        let s = String(Double(Int(v * 10)) / 10)
        return String(repeating: " ", count: max(0, w - s.count)) + s
    }
}
