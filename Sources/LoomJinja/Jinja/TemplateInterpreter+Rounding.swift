import Foundation

/// jinja2's `round` filter: `round(value, precision)` for "common" (CPython's correctly rounded,
/// half-even `float.__round__` / `int.__round__`), and `math.ceil` / `math.floor` of
/// `value * 10**precision`, divided back, for the other methods.
extension TemplateInterpreter {
    func round(_ value: TemplateValue, _ args: Arguments) throws -> TemplateValue {
        let method = args.value(1, "method")?.asString ?? "common"
        guard ["common", "ceil", "floor"].contains(method) else { throw RuntimeFailure("method must be common, ceil or floor") }
        var precision = 0
        if let p = args.value(0, "precision") {
            guard let i = p.asInt else { throw RuntimeFailure("'\(p.typeName)' object cannot be interpreted as an integer") }
            precision = i
        }
        guard let number = value.number else { throw RuntimeFailure("type \(value.typeName) doesn't define __round__ method") }
        if method == "common" {
            switch number {
            case .int(let i): return .int(try Self.roundInteger(i, precision))
            case .float(let d): return .float(try Self.roundFloat(d, precision))
            }
        }
        let rule: FloatingPointRoundingRule = method == "ceil" ? .up : .down
        // value * 10**precision: an int times an int stays exact, so int input comes back as float(value).
        if case .int(let i) = number, precision >= 0 { return .float(Double(i)) }
        let x = value.asDouble!
        let scale = Foundation.pow(10.0, Double(max(min(precision, 400), -400)))
        if scale.isInfinite { throw RuntimeFailure("int too large to convert to float") }
        let scaled = x * scale
        if scaled.isNaN { throw RuntimeFailure("cannot convert float NaN to integer") }
        if scaled.isInfinite { throw RuntimeFailure("cannot convert float infinity to integer") }
        if scale == 0 { throw RuntimeFailure("float division by zero") }
        return .float(scaled.rounded(rule) / scale)
    }

    /// CPython `int.__round__(ndigits)`: exact, half to even; a result beyond 64 bits is an error.
    static func roundInteger(_ i: Int, _ ndigits: Int) throws -> Int {
        if ndigits >= 0 { return i }
        if ndigits < -19 { return 0 }  // |i| < 9.3e18 < 10**20 / 2
        var p: Int128 = 1
        for _ in 0..<(-ndigits) { p *= 10 }
        let x = Int128(i)
        var q = x / p, r = x % p
        if r < 0 { q -= 1; r += p }  // floor division
        if 2 * r > p || (2 * r == p && q % 2 != 0) { q += 1 }
        guard let result = Int(exactly: q * p) else { throw integerOverflow }
        return result
    }

    /// CPython `float.__round__(ndigits)`: the exact binary value rounded half to even at
    /// 10**-ndigits, then the nearest double. glibc's printf converts exactly, so its digits
    /// are the correctly rounded decimal CPython's dtoa produces.
    static func roundFloat(_ x: Double, _ ndigits: Int) throws -> Double {
        if !x.isFinite || ndigits > 323 { return x }
        if ndigits < -308 { return Double(signOf: x, magnitudeOf: 0) }
        if ndigits >= 0 {
            return Double(String(format: "%.\(ndigits)f", x)) ?? x
        }
        let k = -ndigits
        let a = Swift.abs(x)
        let whole = a.rounded(.down)
        let digits = Array(String(format: "%.0f", whole).utf8)  // exact: whole is an integer
        var rounded: Double
        if whole == 0 || digits.count < k {
            rounded = 0  // a < 10**(k-1) <= half a unit of 10**k
        } else if digits.count == k {
            // Either 0 or 10**k: compare with 5 * 10**(k-1), exactly, on the digits.
            let rest = digits.dropFirst()
            let exactHalf = digits[0] == UInt8(ascii: "5") && rest.allSatisfy { $0 == UInt8(ascii: "0") } && a == whole
            let up = digits[0] > UInt8(ascii: "5") || (digits[0] == UInt8(ascii: "5") && !exactHalf)
            rounded = up ? Double("1e\(k)")! : 0
        } else {
            // `digits.count - k` significant digits end exactly at the 10**k place.
            rounded = Double(String(format: "%.\(digits.count - k - 1)e", a)) ?? 0
        }
        if rounded.isInfinite { throw RuntimeFailure("rounded value too large to represent") }
        return Double(signOf: x, magnitudeOf: rounded)
    }
}
