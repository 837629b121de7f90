/// Kernels for the unquantised row types F32, F16 and BF16 (block size 1, any length).
///
/// The dot products keep four independent SIMD16 accumulators so consecutive FMAs do not
/// wait on each other (FMA latency is 4 cycles on current x86 and arm64 cores), then
/// finish with a SIMD16 loop and a scalar tail for lengths that are not multiples of 16.
enum FloatRows {
    // MARK: F32

    /// Σ a[i]·b[i]; `a` may sit at any byte alignment (an F32 row inside a mapped file).
    static func dotF32(_ a: UnsafeRawPointer, _ b: UnsafePointer<Float>, count: Int) -> Float {
        var acc0 = SIMD16<Float>(), acc1 = SIMD16<Float>(), acc2 = SIMD16<Float>(), acc3 = SIMD16<Float>()
        var i = 0
        while i + 64 <= count {
            acc0.addProduct(a.loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<Float>.self), loadFloats16(b + i))
            acc1.addProduct(a.loadUnaligned(fromByteOffset: 4 * i + 64, as: SIMD16<Float>.self), loadFloats16(b + i + 16))
            acc2.addProduct(a.loadUnaligned(fromByteOffset: 4 * i + 128, as: SIMD16<Float>.self), loadFloats16(b + i + 32))
            acc3.addProduct(a.loadUnaligned(fromByteOffset: 4 * i + 192, as: SIMD16<Float>.self), loadFloats16(b + i + 48))
            i += 64
        }
        while i + 16 <= count {
            acc0.addProduct(a.loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<Float>.self), loadFloats16(b + i))
            i += 16
        }
        var sum = horizontalSum((acc0 + acc1) + (acc2 + acc3))
        while i < count {
            sum = sum.addingProduct(a.loadUnaligned(fromByteOffset: 4 * i, as: Float.self), b[i])
            i += 1
        }
        return sum
    }

    static func dequantizeF32(_ src: UnsafeRawPointer, into dst: UnsafeMutablePointer<Float>, count: Int) {
        // A raw byte copy: the source may sit at any alignment inside a mapped file.
        UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: count * MemoryLayout<Float>.stride)
    }

    // MARK: F16

    static func dequantizeF16(_ src: UnsafeRawPointer, into dst: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + 16 <= count {
            storeFloats16(halvesToFloats(src.loadUnaligned(fromByteOffset: 2 * i, as: SIMD16<UInt16>.self)), dst + i)
            i += 16
        }
        while i < count {
            dst[i] = loadHalf(src, 2 * i)
            i += 1
        }
    }

    static func dotF16(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, count: Int) -> Float {
        var acc0 = SIMD16<Float>(), acc1 = SIMD16<Float>(), acc2 = SIMD16<Float>(), acc3 = SIMD16<Float>()
        var i = 0
        while i + 64 <= count {
            acc0.addProduct(halvesToFloats(row.loadUnaligned(fromByteOffset: 2 * i, as: SIMD16<UInt16>.self)), loadFloats16(x + i))
            acc1.addProduct(halvesToFloats(row.loadUnaligned(fromByteOffset: 2 * i + 32, as: SIMD16<UInt16>.self)), loadFloats16(x + i + 16))
            acc2.addProduct(halvesToFloats(row.loadUnaligned(fromByteOffset: 2 * i + 64, as: SIMD16<UInt16>.self)), loadFloats16(x + i + 32))
            acc3.addProduct(halvesToFloats(row.loadUnaligned(fromByteOffset: 2 * i + 96, as: SIMD16<UInt16>.self)), loadFloats16(x + i + 48))
            i += 64
        }
        while i + 16 <= count {
            acc0.addProduct(halvesToFloats(row.loadUnaligned(fromByteOffset: 2 * i, as: SIMD16<UInt16>.self)), loadFloats16(x + i))
            i += 16
        }
        var sum = horizontalSum((acc0 + acc1) + (acc2 + acc3))
        while i < count {
            sum = sum.addingProduct(loadHalf(row, 2 * i), x[i])
            i += 1
        }
        return sum
    }

    // MARK: BF16

    static func dequantizeBF16(_ src: UnsafeRawPointer, into dst: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + 16 <= count {
            storeFloats16(bf16sToFloats(src.loadUnaligned(fromByteOffset: 2 * i, as: SIMD16<UInt16>.self)), dst + i)
            i += 16
        }
        while i < count {
            dst[i] = bf16ToFloat(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
            i += 1
        }
    }

    static func dotBF16(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, count: Int) -> Float {
        var acc0 = SIMD16<Float>(), acc1 = SIMD16<Float>(), acc2 = SIMD16<Float>(), acc3 = SIMD16<Float>()
        var i = 0
        while i + 64 <= count {
            acc0.addProduct(bf16sToFloats(row.loadUnaligned(fromByteOffset: 2 * i, as: SIMD16<UInt16>.self)), loadFloats16(x + i))
            acc1.addProduct(bf16sToFloats(row.loadUnaligned(fromByteOffset: 2 * i + 32, as: SIMD16<UInt16>.self)), loadFloats16(x + i + 16))
            acc2.addProduct(bf16sToFloats(row.loadUnaligned(fromByteOffset: 2 * i + 64, as: SIMD16<UInt16>.self)), loadFloats16(x + i + 32))
            acc3.addProduct(bf16sToFloats(row.loadUnaligned(fromByteOffset: 2 * i + 96, as: SIMD16<UInt16>.self)), loadFloats16(x + i + 48))
            i += 64
        }
        while i + 16 <= count {
            acc0.addProduct(bf16sToFloats(row.loadUnaligned(fromByteOffset: 2 * i, as: SIMD16<UInt16>.self)), loadFloats16(x + i))
            i += 16
        }
        var sum = horizontalSum((acc0 + acc1) + (acc2 + acc3))
        while i < count {
            sum = sum.addingProduct(bf16ToFloat(row.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)), x[i])
            i += 1
        }
        return sum
    }
}

// MARK: I8

extension FloatRows {
    /// Signed bytes as floats (ggml's I8 → F32 copy). Not a hot path: I8 tensors are Loom's
    /// packed ternary codes, multiplied by ``BitLinearKernel``; this serves inspection.
    static func dequantizeI8(_ src: UnsafeRawPointer, into dst: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { dst[i] = Float(src.load(fromByteOffset: i, as: Int8.self)) }
    }

    static func dotI8(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, count: Int) -> Float {
        var sum: Float = 0
        for i in 0..<count { sum = sum.addingProduct(Float(row.load(fromByteOffset: i, as: Int8.self)), x[i]) }
        return sum
    }
}
