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

    /// Largest value, `-inf` for an empty buffer. Expects no NaN (see ``copySanitized(_:to:)``).
    static func maximum(_ values: UnsafeBufferPointer<Float>) -> Float {
        let n = values.count
        guard n > 0, let p = values.baseAddress else { return -.infinity }
        var m16 = SIMD16<Float>(repeating: -.infinity)
        var i = 0
        while i + 16 <= n {
            m16 = pointwiseMax(m16, UnsafeRawPointer(p + i).loadUnaligned(as: SIMD16<Float>.self))
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

    /// The unnormalised probability the sampler's filters use for a logit: `expf(logit - max)`.
    /// Every sum and every cumulative walk goes through this one function so that they agree
    /// to the last bit.
    @inline(__always)
    static func weight(_ logit: Float, max: Float) -> Double {
        Double(expf(logit - max))
    }

    /// Σ ``weight(_:max:)`` over all values (the softmax normaliser before temperature), and a
    /// histogram of that mass by distance below `max` in buckets of `1 / bucketsPerNat` nats;
    /// the last bucket collects everything further away. Used to find a logit threshold that
    /// surely contains the top-p prefix without sorting the vocabulary.
    static func massHistogram(
        _ values: UnsafeBufferPointer<Float>, max: Float, bucketsPerNat: Float, into buckets: inout [Double]
    ) -> Double {
        for b in buckets.indices { buckets[b] = 0 }
        let last = buckets.count - 1
        let farthest = Float(last) / bucketsPerNat
        var total = 0.0
        for l in values where l > -.infinity {
            let w = weight(l, max: max)
            let distance = max - l
            let b = distance < farthest ? Int(distance * bucketsPerNat) : last
            buckets[b] += w
            total += w
        }
        return total
    }

    /// Σ ``weight(_:max:)`` over all values.
    static func totalWeight(_ values: UnsafeBufferPointer<Float>, max: Float) -> Double {
        var total = 0.0
        for l in values where l > -.infinity { total += weight(l, max: max) }
        return total
    }
}
