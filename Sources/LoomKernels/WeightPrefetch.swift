// Software prefetch of weight rows streaming from memory.
//
// Decode (one token, or a server step's few) reads every weight once per step, mostly
// from DRAM. The hardware prefetcher keeps only a short way ahead of a stream and stops at
// each 4 KB page, and the row loops alternate memory-bound reading with compute-bound work
// (the lane kernel unpacks a tile, then multiplies it with no loads to memory at all), so
// `perf annotate` shows the unpacking stalled on its loads and the threads far below the
// machine's bandwidth. Asking for the rows a fixed distance ahead keeps lines in flight
// through the compute phases. Swift has no prefetch instruction; it comes from the
// header-only C target `LoomIntrinsics` (with both distances 0, or built without that
// module, these loops are the plain Swift ones). Kernel-level numbers are in
// scripts/bench_batch_kernels.swift's output (BENCHMARKS.md).
#if canImport(LoomIntrinsics)
import LoomIntrinsics
#endif

extension WeightMatrix {
    /// Bytes ahead of the row being unpacked that lane-kernel steps (``IntegerLaneBatchKernel``)
    /// ask for; 0 switches the prefetch off. `loom serve -m smollm2 --parallel 8`, 8 streams of
    /// 64 tokens, medians of 5, two alternating runs: none 314 / 334, 3 KB 390 / 406, 6 KB
    /// 402 / 400, 12 KB 395 / 379 tokens/s.
    nonisolated(unsafe) public static var lanePrefetchDistance = 6144

    /// Bytes ahead of the row being read that single-token decode loops ask for; 0 switches
    /// the prefetch off. `loom bench -m smollm2 -p 0 -n 64 -r 3`, three alternating runs:
    /// none 124 / 126 / 140, 4 KB 143 / 150 / 155 tokens/s (1, 2 and 8 KB: 116–125, 122–140,
    /// 141–144). Qwen2.5's decode, compute-bound in its Q5_0 kernel, is unchanged.
    nonisolated(unsafe) public static var decodePrefetchDistance = 4096

    /// ``decodePrefetchDistance`` for runs of a megabyte or more (see
    /// `MatMul.decodePrefetchDistance(_:rows:)`). Measured on the 49152-row LM head; a kernel
    /// micro-benchmark streaming 256 MB of Q8_0 rows from DRAM: 4 KB 17.7, 8 KB 20.1, 16 KB
    /// 19.8 GB/s.
    nonisolated(unsafe) public static var longRunPrefetchDistance = 8192

    /// Asks for the bytes `distance` ahead of row `r` (`rows` rows' worth, one request per
    /// 64-byte line), not past the start of row `limit` (the end of the caller's run of rows).
    @usableFromInline @inline(__always)
    func prefetch(aheadOf r: Int, rows: Int = 1, limit: Int, distance: Int) {
        #if canImport(LoomIntrinsics)
        guard distance > 0 else { return }
        let rowBytes = self.rowBytes
        let start = r * rowBytes + distance
        let end = min(start + rows * rowBytes, limit * rowBytes)
        var offset = start
        while offset < end {
            loom_prefetch(base + offset)
            offset += 64
        }
        #endif
    }

    /// Asks for the first `distance` bytes of `rows`, at the start of a run of rows: the part
    /// the prefetch `distance` ahead of each row never covers.
    @inline(__always)
    func prefetchHead(of rows: Range<Int>, distance: Int) {
        let start = rows.lowerBound * rowBytes
        prefetchLines(base + start, bytes: min(distance, rows.upperBound * rowBytes - start))
    }
}

/// Asks for the cache lines of the `bytes` bytes from `p`, one request per 64 bytes.
@inline(__always)
func prefetchLines(_ p: UnsafeRawPointer, bytes: Int) {
    var offset = 0
    while offset < bytes { prefetchLine(p + offset); offset += 64 }
}

/// Asks for the cache line at `p` (see `loom_prefetch`); nothing without LoomIntrinsics.
@inline(__always)
func prefetchLine(_ p: UnsafeRawPointer) {
    #if canImport(LoomIntrinsics)
    loom_prefetch(p)
    #endif
}
