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
