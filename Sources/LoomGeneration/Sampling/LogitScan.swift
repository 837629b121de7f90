#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Whole-vocabulary passes of the sampler, vectorised where a pass is a plain compare or copy.
///
/// These run once per generated token over 49k–152k logits, so each is a single streaming pass
/// that touches no memory besides the logits and, for `collect`, the few survivors.
enum LogitScan {
    /// Copies `source` into `destination` (same count), mapping NaN to `-inf` (a broken logit is
    /// never chosen) and `+inf` to the largest finite float (so that `logit - max` stays finite
    /// and a forced token still dominates every finite one).
    static func copySanitized(_ source: UnsafeBufferPointer<Float>, to destination: UnsafeMutableBufferPointer<Float>) {
        let n = source.count
        guard n > 0, let src = source.baseAddress, let dst = destination.baseAddress else { return }
        let negInf = SIMD16<Float>(repeating: -.infinity)
        let posInf = SIMD16<Float>(repeating: .infinity)
        let big = SIMD16<Float>(repeating: .greatestFiniteMagnitude)
        var i = 0
        while i + 16 <= n {
            var v = UnsafeRawPointer(src + i).loadUnaligned(as: SIMD16<Float>.self)
            v.replace(with: negInf, where: v .!= v)
            v.replace(with: big, where: v .== posInf)
            UnsafeMutableRawPointer(dst + i).storeBytes(of: v, as: SIMD16<Float>.self)
            i += 16
        }
        while i < n {
            dst[i] = sanitized(src[i])
            i += 1
        }
    }

    /// The sanitising map of ``copySanitized(_:to:)`` for one value.
    @inline(__always)
    static func sanitized(_ x: Float) -> Float {
        if x.isNaN { return -.infinity }
        return x == .infinity ? .greatestFiniteMagnitude : x
    }

    /// Whether any value is NaN (one vector compare per 16 values).
    static func containsNaN(_ values: UnsafeBufferPointer<Float>) -> Bool {
        let n = values.count
        guard n > 0, let p = values.baseAddress else { return false }
        var i = 0
        while i + 16 <= n {
            let v = UnsafeRawPointer(p + i).loadUnaligned(as: SIMD16<Float>.self)
            if any(v .!= v) { return true }
            i += 16
        }
        while i < n {
            if p[i].isNaN { return true }
            i += 1
        }
        return false
    }

    /// Largest value, `-inf` for an empty buffer. Expects no NaN (see ``copySanitized(_:to:)``).
    static func maximum(_ values: UnsafeBufferPointer<Float>) -> Float {
        let n = values.count
        guard n > 0, let p = values.baseAddress else { return -.infinity }
        var m16 = SIMD16<Float>(repeating: -.infinity)
        var i = 0
        while i + 16 <= n {
            // Compare-and-blend rather than `pointwiseMax`, whose IEEE NaN rules make LLVM
            // scalarise it (≈100× slower here); NaN cannot occur after sanitising.
            let v = UnsafeRawPointer(p + i).loadUnaligned(as: SIMD16<Float>.self)
            m16.replace(with: v, where: v .> m16)
            i += 16
        }
        var m = m16.max()
        while i < n {
            m = Swift.max(m, p[i])
            i += 1
        }
        return m
    }

    /// Index of the first entry equal to `value` (the lowest id among ties), or nil.
    static func firstIndex(of value: Float, in values: UnsafeBufferPointer<Float>) -> Int? {
        let n = values.count
        guard n > 0, let p = values.baseAddress else { return nil }
        let target = SIMD16<Float>(repeating: value)
        var i = 0
        while i + 16 <= n {
            if any(UnsafeRawPointer(p + i).loadUnaligned(as: SIMD16<Float>.self) .== target) { break }
            i += 16
        }
        while i < n {
            if p[i] == value { return i }
            i += 1
        }
        return nil
    }

    /// Replaces `out` with every token whose value is ≥ `threshold`, in id order. `threshold` is
    /// clamped to ≥ -greatestFiniteMagnitude so that `-inf` (banned) tokens are never collected.
    static func collect(atLeast threshold: Float, from values: UnsafeBufferPointer<Float>, into out: inout [TokenCandidate]) {
        out.removeAll(keepingCapacity: true)
        let n = values.count
        guard n > 0, let p = values.baseAddress else { return }
        let t = Swift.max(threshold, -.greatestFiniteMagnitude)
        let t16 = SIMD16<Float>(repeating: t)
        var i = 0
        while i + 16 <= n {
            if any(UnsafeRawPointer(p + i).loadUnaligned(as: SIMD16<Float>.self) .>= t16) {
                for j in i..<(i + 16) where p[j] >= t {
                    out.append(TokenCandidate(id: j, logit: p[j]))
                }
            }
            i += 16
        }
        while i < n {
            if p[i] >= t { out.append(TokenCandidate(id: i, logit: p[i])) }
            i += 1
        }
    }

    /// The unnormalised probability the sampler's filters use for a logit: `exp(logit - max)`
    /// with ``VectorExp``, the same function the whole-vocabulary sums use.
    @inline(__always)
    static func weight(_ logit: Float, max: Float) -> Double {
        Double(VectorExp.exp(logit - max))
    }

    /// Σ exp(value - max) over all values: the softmax normaliser before temperature.
    ///
    /// Lanes accumulate in float over blocks of 256 values, blocks in double, so the relative
    /// error stays around 1e-7 for any vocabulary size.
    static func sumOfExponentials(_ values: UnsafeBufferPointer<Float>, max: Float) -> Double {
        let n = values.count
        guard n > 0, let p = values.baseAddress else { return 0 }
        let m16 = SIMD16<Float>(repeating: max)
        var total = 0.0
        var i = 0
        while i < n {
            let blockEnd = Swift.min(i + blockSize, n)
            var acc = SIMD16<Float>()
            while i + 16 <= blockEnd {
                acc += VectorExp.exp(UnsafeRawPointer(p + i).loadUnaligned(as: SIMD16<Float>.self) - m16)
                i += 16
            }
            var block = Double(acc.sum())
            while i < blockEnd {
                block += weight(p[i], max: max)
                i += 1
            }
            total += block
        }
        return total
    }

    /// Distances below the max (in nats) at which ``massProfile(_:max:)`` measures the mass.
    static let profileDistances: [Float] = [1, 2, 3, 4, 6, 8, 12, 16]

    /// In one pass: Σ exp(value - max) over all values, and for each of ``profileDistances`` the
    /// part of that sum coming from values within that distance of the max. Top-p without top-k
    /// uses it to pick the tightest logit threshold that holds the nucleus before collecting.
    static func massProfile(_ values: UnsafeBufferPointer<Float>, max: Float) -> (total: Double, within: [Double]) {
        var within = [Double](repeating: 0, count: profileDistances.count)
        let n = values.count
        guard n > 0, let p = values.baseAddress else { return (0, within) }
        let m16 = SIMD16<Float>(repeating: max)
        let zero = SIMD16<Float>()
        let d = profileDistances.map { SIMD16<Float>(repeating: $0) }
        let (d0, d1, d2, d3, d4, d5, d6, d7) = (d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7])
        var total = 0.0
        var i = 0
        while i < n {
            let blockEnd = Swift.min(i + blockSize, n)
            var all = SIMD16<Float>()
            var a0 = zero, a1 = zero, a2 = zero, a3 = zero, a4 = zero, a5 = zero, a6 = zero, a7 = zero
            while i + 16 <= blockEnd {
                let v = UnsafeRawPointer(p + i).loadUnaligned(as: SIMD16<Float>.self)
                let w = VectorExp.exp(v - m16)
                let distance = m16 - v
                all += w
                a0 += w.replacing(with: zero, where: distance .> d0)
                a1 += w.replacing(with: zero, where: distance .> d1)
                a2 += w.replacing(with: zero, where: distance .> d2)
                a3 += w.replacing(with: zero, where: distance .> d3)
                a4 += w.replacing(with: zero, where: distance .> d4)
                a5 += w.replacing(with: zero, where: distance .> d5)
                a6 += w.replacing(with: zero, where: distance .> d6)
                a7 += w.replacing(with: zero, where: distance .> d7)
                i += 16
            }
            var block = Double(all.sum())
            let sums = [a0, a1, a2, a3, a4, a5, a6, a7]
            for j in 0..<8 { within[j] += Double(sums[j].sum()) }
            while i < blockEnd {
                let w = weight(p[i], max: max)
                block += w
                for j in 0..<8 where max - p[i] <= profileDistances[j] { within[j] += w }
                i += 1
            }
            total += block
        }
        return (total, within)
    }

    /// Overwrites each value with its softmax weight at temperature `t`, `exp((value - max) / t)`,
    /// and returns their total, summed block by block exactly as ``blockSum(_:_:_:)`` does
    /// (so a walk over the block sums reproduces the total bit for bit). Dividing rather than
    /// multiplying by 1/t keeps a tiny `t` from turning the max's `0 · inf` into NaN.
    static func exponentiateInPlace(_ values: UnsafeMutableBufferPointer<Float>, max: Float, temperature t: Float) -> Double {
        let n = values.count
        guard n > 0, let p = values.baseAddress else { return 0 }
        let m16 = SIMD16<Float>(repeating: max)
        let t16 = SIMD16<Float>(repeating: t)
        var i = 0
        while i + 16 <= n {
            let v = UnsafeRawPointer(p + i).loadUnaligned(as: SIMD16<Float>.self)
            UnsafeMutableRawPointer(p + i).storeBytes(of: VectorExp.exp((v - m16) / t16), as: SIMD16<Float>.self)
            i += 16
        }
        while i < n {
            p[i] = VectorExp.exp((p[i] - max) / t)
            i += 1
        }
        var total = 0.0
        var start = 0
        while start < n {
            total += blockSum(UnsafeBufferPointer(values), start, Swift.min(start + blockSize, n))
            start += blockSize
        }
        return total
    }

    /// Values per block of the two-level sums.
    static let blockSize = 256

    /// Sum of `values[start..<end]` (at most one block): float lanes, then double.
    @inline(__always)
    static func blockSum(_ values: UnsafeBufferPointer<Float>, _ start: Int, _ end: Int) -> Double {
        guard let p = values.baseAddress else { return 0 }
        var acc = SIMD16<Float>()
        var i = start
        while i + 16 <= end {
            acc += UnsafeRawPointer(p + i).loadUnaligned(as: SIMD16<Float>.self)
            i += 16
        }
        var sum = Double(acc.sum())
        while i < end {
            sum += Double(p[i])
            i += 1
        }
        return sum
    }
}
