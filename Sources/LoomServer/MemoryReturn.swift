import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Gives freed heap memory back to the operating system after a large request.
///
/// glibc's malloc keeps freed blocks in its arenas: after a multi-megabyte body, its copy and
/// its parsed JSON are freed, the process's resident size stays at the high-water mark, so a
/// few large requests leave a server hundreds of MB larger for good. `malloc_trim(0)` returns
/// the free pages of every arena (glibc ≥ 2.8 releases whole free pages inside the heaps, not
/// only at their tops). It costs about a millisecond, so it runs only after bodies of
/// `threshold` bytes or more. Other C libraries (macOS) return memory on their own.
/// `LOOM_MALLOC_TRIM=0` in the environment turns it off (to measure what it changes).
enum MemoryReturn {
    /// Bodies from this size on are followed by a trim.
    static let threshold = 1 << 20
    static let enabled = ProcessInfo.processInfo.environment["LOOM_MALLOC_TRIM"] != "0"

    static func afterRequest(bodyBytes: Int) {
        if enabled && bodyBytes >= threshold { _ = trim?(0) }
    }

    /// glibc's `int malloc_trim(size_t pad)`, looked up at run time: Swift's Glibc module does
    /// not import `<malloc.h>`. nil on other C libraries.
    private static let trim: (@convention(c) (Int) -> Int32)? = {
        #if canImport(Glibc)
        // RTLD_DEFAULT (a null handle): search the process's global symbols.
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)
        #else
        return nil
        #endif
    }()
}
