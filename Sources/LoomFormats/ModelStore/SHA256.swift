#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// SHA-256 (FIPS 180-4) in pure Swift, streaming.
///
/// Loom only needs it to check downloaded model files against their published checksums,
/// so it is a plain scalar implementation tuned enough to hash a model file at disk speed
/// (no SHA-NI: Swift cannot emit those instructions without a C module).
///
/// ```swift
/// var hasher = SHA256()
/// hasher.update(Array("abc".utf8))
/// print(hasher.finalize().hex)   // ba7816bf…f20015ad
/// print(try SHA256.hash(fileAt: "/path/to/model.gguf").hex)
/// ```
public struct SHA256: Sendable {
    /// A finished 32-byte digest.
    public struct Digest: Sendable, Equatable, CustomStringConvertible {
        /// The 32 digest bytes, most significant first.
        public let bytes: [UInt8]
        /// Lower-case hexadecimal, the form checksums are published in.
        public var hex: String {
            let digits: [UInt8] = Array("0123456789abcdef".utf8)
            var out = [UInt8]()
            out.reserveCapacity(64)
            for b in bytes {
                out.append(digits[Int(b >> 4)])
                out.append(digits[Int(b & 15)])
            }
            return String(decoding: out, as: UTF8.self)
        }
        public var description: String { hex }
    }

    private var h0: UInt32 = 0x6a09e667, h1: UInt32 = 0xbb67ae85
    private var h2: UInt32 = 0x3c6ef372, h3: UInt32 = 0xa54ff53a
    private var h4: UInt32 = 0x510e527f, h5: UInt32 = 0x9b05688c
    private var h6: UInt32 = 0x1f83d9ab, h7: UInt32 = 0x5be0cd19
    /// Bytes of an incomplete block carried to the next `update` (at most 63 are used).
    private var pending = [UInt8](repeating: 0, count: 64)
    private var pendingCount = 0
    /// Total message length in bytes; the padding encodes it in bits.
    private var totalBytes: UInt64 = 0

    /// A fresh hasher in the FIPS 180-4 initial state.
    public init() {}

    /// Feeds `buffer` into the hash.
    public mutating func update(_ buffer: UnsafeRawBufferPointer) {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        var ptr = base.assumingMemoryBound(to: UInt8.self)
        var remaining = buffer.count
        totalBytes &+= UInt64(remaining)
        if pendingCount > 0 {
            let take = min(64 - pendingCount, remaining)
            pending.withUnsafeMutableBufferPointer { p in
                (p.baseAddress! + pendingCount).update(from: ptr, count: take)
            }
            pendingCount += take
            ptr += take
            remaining -= take
            if pendingCount < 64 { return }
            pending.withUnsafeBufferPointer { p in compress(p.baseAddress!, blocks: 1) }
            pendingCount = 0
        }
        let blocks = remaining / 64
        if blocks > 0 {
            compress(ptr, blocks: blocks)
            ptr += blocks * 64
            remaining -= blocks * 64
        }
        if remaining > 0 {
            pending.withUnsafeMutableBufferPointer { p in p.baseAddress!.update(from: ptr, count: remaining) }
            pendingCount = remaining
        }
    }

    /// Feeds a byte array into the hash.
    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// Applies the padding and returns the digest. The hasher must not be updated afterwards.
    public mutating func finalize() -> Digest {
        let bitLength = totalBytes &* 8
        var tail = [UInt8](repeating: 0, count: pendingCount < 56 ? 64 : 128)
        for i in 0..<pendingCount { tail[i] = pending[i] }
        tail[pendingCount] = 0x80
        for i in 0..<8 { tail[tail.count - 1 - i] = UInt8(truncatingIfNeeded: bitLength >> (8 * UInt64(i))) }
        tail.withUnsafeBufferPointer { compress($0.baseAddress!, blocks: $0.count / 64) }
        pendingCount = 0
        var out = [UInt8]()
        out.reserveCapacity(32)
        for word in [h0, h1, h2, h3, h4, h5, h6, h7] {
            out.append(UInt8(truncatingIfNeeded: word >> 24))
            out.append(UInt8(truncatingIfNeeded: word >> 16))
            out.append(UInt8(truncatingIfNeeded: word >> 8))
            out.append(UInt8(truncatingIfNeeded: word))
        }
        return Digest(bytes: out)
    }

    /// The digest of a byte array.
    public static func hash(_ bytes: [UInt8]) -> Digest {
        var hasher = SHA256()
        hasher.update(bytes)
        return hasher.finalize()
    }

    /// The digest of a file. The file is memory-mapped (no copy through a read buffer, which
    /// costs ~10% at these speeds) and hashed in 16 MB slices, so memory stays flat for
    /// multi-GB models. `onProgress` (if given) receives the bytes hashed so far after each slice.
    public static func hash(fileAt path: String, onProgress: ((Int64) -> Void)? = nil) throws -> Digest {
        try hash(fileAt: path, sliceBytes: 16 << 20, onProgress: onProgress)
    }

    /// `hash(fileAt:onProgress:)` with a chosen slice size (tests use small ones).
    static func hash(fileAt path: String, sliceBytes: Int, onProgress: ((Int64) -> Void)?) throws -> Digest {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw ModelStoreError.io(path: path, message: "cannot open for hashing: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw ModelStoreError.io(path: path, message: "cannot stat for hashing: \(String(cString: strerror(errno)))")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw ModelStoreError.io(path: path, message: "not a regular file, cannot hash it")
        }
        var hasher = SHA256()
        let size = Int(info.st_size)
        if size == 0 { return hasher.finalize() }
        guard let map = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), map != MAP_FAILED else {
            throw ModelStoreError.io(path: path, message: "cannot map for hashing: \(String(cString: strerror(errno)))")
        }
        defer { munmap(map, size) }
        _ = madvise(map, size, MADV_SEQUENTIAL)
        let slice = max(64, sliceBytes)
        var done = 0
        while done < size {
            let n = min(slice, size - done)
            hasher.update(UnsafeRawBufferPointer(start: map + done, count: n))
            done += n
            onProgress?(Int64(done))
        }
        return hasher.finalize()
    }

    // MARK: - Compression function

    /// Runs the compression function over `blocks` consecutive 64-byte blocks.
    /// This is the hot loop. The rounds are unrolled by eight with the working variables renamed
    /// instead of shifted, so they stay in registers; the message schedule is expanded in SIMD
    /// lanes eight words ahead of them, with the round constants already added.
    private mutating func compress(_ data: UnsafePointer<UInt8>, blocks: Int) {
        var a0 = h0, b0 = h1, c0 = h2, d0 = h3, e0 = h4, f0 = h5, g0 = h6, hh0 = h7
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 128) { scratch in
            let w = scratch.baseAddress!          // W[0..<64]
            let wk = w + 64                       // W[i] + K[i]
            SHA256.roundConstants.withUnsafeBufferPointer { kbuf in
                let k = UnsafeRawPointer(kbuf.baseAddress!)
                let wr = UnsafeMutableRawPointer(w)
                let wkr = UnsafeMutableRawPointer(wk)
                for blk in 0..<blocks {
                    let p = UnsafeRawPointer(data + blk * 64)
                    for i in 0..<16 {
                        w[i] = UInt32(bigEndian: p.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))
                    }
                    for i in stride(from: 0, to: 16, by: 4) {
                        let sum = wr.loadUnaligned(fromByteOffset: i * 4, as: SIMD4<UInt32>.self)
                            &+ k.loadUnaligned(fromByteOffset: i * 4, as: SIMD4<UInt32>.self)
                        wkr.storeBytes(of: sum, toByteOffset: i * 4, as: SIMD4<UInt32>.self)
                    }
                    var a = a0, b = b0, c = c0, d = d0, e = e0, f = f0, g = g0, h = hh0
                    var bc = b ^ c
                    var i = 0
                    while i < 64 {
                        // Expand the schedule eight words ahead of the rounds: the vector
                        // work then fills execution ports the round's dependency chain leaves idle.
                        if i < 48 {
                            scheduleFour(wr, wkr, k, i + 16)
                            scheduleFour(wr, wkr, k, i + 20)
                        }
                        sha256Round(a, b, c, &d, e, f, g, &h, wk[i], &bc)
                        sha256Round(h, a, b, &c, d, e, f, &g, wk[i + 1], &bc)
                        sha256Round(g, h, a, &b, c, d, e, &f, wk[i + 2], &bc)
                        sha256Round(f, g, h, &a, b, c, d, &e, wk[i + 3], &bc)
                        sha256Round(e, f, g, &h, a, b, c, &d, wk[i + 4], &bc)
                        sha256Round(d, e, f, &g, h, a, b, &c, wk[i + 5], &bc)
                        sha256Round(c, d, e, &f, g, h, a, &b, wk[i + 6], &bc)
                        sha256Round(b, c, d, &e, f, g, h, &a, wk[i + 7], &bc)
                        i += 8
                    }
                    a0 &+= a; b0 &+= b; c0 &+= c; d0 &+= d
                    e0 &+= e; f0 &+= f; g0 &+= g; hh0 &+= h
                }
            }
        }
        h0 = a0; h1 = b0; h2 = c0; h3 = d0; h4 = e0; h5 = f0; h6 = g0; h7 = hh0
    }

    private static let roundConstants: [UInt32] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    ]
}

/// One SHA-256 round with the roles of the working variables given by position: it adds T1
/// into `d` (the next `e`) and turns `h` into the next `a`. `kw` is K[i] + W[i]. `bc` carries
/// b ^ c between rounds: this round's a ^ b is the next round's b ^ c, which makes
/// Maj(a, b, c) = b ^ ((a ^ b) & (b ^ c)) one operation cheaper.
@inline(__always) private func sha256Round(
    _ a: UInt32, _ b: UInt32, _ c: UInt32, _ d: inout UInt32,
    _ e: UInt32, _ f: UInt32, _ g: UInt32, _ h: inout UInt32, _ kw: UInt32, _ bc: inout UInt32
) {
    let t1 = h &+ (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) &+ (g ^ (e & (f ^ g))) &+ kw
    d &+= t1
    let ab = a ^ b
    h = t1 &+ (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) &+ (b ^ (ab & bc))
    bc = ab
}

/// Computes message words W[i..<i+4] (and W + K) from the sixteen before them, four lanes at
/// a time; only σ1's dependence on W[i-2] forces the two half steps.
@inline(__always) private func scheduleFour(
    _ w: UnsafeMutableRawPointer, _ wk: UnsafeMutableRawPointer, _ k: UnsafeRawPointer, _ i: Int
) {
    let x = w.loadUnaligned(fromByteOffset: (i - 16) * 4, as: SIMD4<UInt32>.self)
    let y = w.loadUnaligned(fromByteOffset: (i - 15) * 4, as: SIMD4<UInt32>.self)
    let z = w.loadUnaligned(fromByteOffset: (i - 7) * 4, as: SIMD4<UInt32>.self)
    var v = x &+ z &+ (vrotr(y, 7) ^ vrotr(y, 18) ^ (y &>> 3))
    let t = SIMD4<UInt32>(
        w.load(fromByteOffset: (i - 2) * 4, as: UInt32.self),
        w.load(fromByteOffset: (i - 1) * 4, as: UInt32.self), 0, 0)
    v &+= vsigma1(t) & SIMD4(~0, ~0, 0, 0)
    let u = SIMD4<UInt32>(0, 0, v[0], v[1])
    v &+= vsigma1(u) & SIMD4(0, 0, ~0, ~0)
    w.storeBytes(of: v, toByteOffset: i * 4, as: SIMD4<UInt32>.self)
    wk.storeBytes(of: v &+ k.loadUnaligned(fromByteOffset: i * 4, as: SIMD4<UInt32>.self),
                  toByteOffset: i * 4, as: SIMD4<UInt32>.self)
}

@inline(__always) private func vrotr(_ x: SIMD4<UInt32>, _ n: UInt32) -> SIMD4<UInt32> {
    (x &>> SIMD4(repeating: n)) | (x &<< SIMD4(repeating: 32 &- n))
}

/// σ1 of the message schedule on four lanes.
@inline(__always) private func vsigma1(_ x: SIMD4<UInt32>) -> SIMD4<UInt32> {
    vrotr(x, 17) ^ vrotr(x, 19) ^ (x &>> 10)
}

/// 32-bit rotate right; LLVM turns this into a single `ror`/`rorx`.
@inline(__always) private func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 {
    (x >> n) | (x << (32 &- n))
}
