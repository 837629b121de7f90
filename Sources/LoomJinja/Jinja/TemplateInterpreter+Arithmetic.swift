import Foundation

/// Python arithmetic on template numbers. jinja2 has arbitrary-precision integers; Loom keeps
/// 64-bit integers and answers a result that does not fit with a named error (never a wrapped
/// value: the release build uses -Ounchecked, so every integer operation here is checked by
/// hand). Float results follow CPython's `floatobject.c`.
extension TemplateInterpreter {
    static let integerOverflow = RuntimeFailure(
        "integer overflow: the result does not fit in 64 bits (jinja2 would use an arbitrary-precision integer)")

    @inline(__always)
    static func checked(_ r: (partialValue: Int, overflow: Bool)) throws -> Int {
        if r.overflow { throw integerOverflow }
        return r.partialValue
    }

    func arithmetic(_ op: TemplateExpression.BinaryOperator, _ a: TemplateValue.Number, _ b: TemplateValue.Number) throws -> TemplateValue {
        if case .int(let x) = a, case .int(let y) = b { return try integerArithmetic(op, x, y) }
        let x: Double, y: Double
        switch a { case .int(let i): x = Double(i); case .float(let d): x = d }
        switch b { case .int(let i): y = Double(i); case .float(let d): y = d }
        switch op {
        case .add: return .float(x + y)
        case .subtract: return .float(x - y)
        case .multiply: return .float(x * y)
        case .divide:
            if y == 0 { throw RuntimeFailure("float division by zero") }
            return .float(x / y)
        case .floorDivide:
            if y == 0 { throw RuntimeFailure("float floor division by zero") }
            return .float(Self.floatDivmod(x, y).quotient)
        case .modulo:
            if y == 0 { throw RuntimeFailure("float modulo") }
            return .float(Self.floatDivmod(x, y).remainder)
        case .power:
            return .float(try Self.floatPower(x, y))
        }
    }

    private func integerArithmetic(_ op: TemplateExpression.BinaryOperator, _ x: Int, _ y: Int) throws -> TemplateValue {
        switch op {
        case .add: return .int(try Self.checked(x.addingReportingOverflow(y)))
        case .subtract: return .int(try Self.checked(x.subtractingReportingOverflow(y)))
        case .multiply: return .int(try Self.checked(x.multipliedReportingOverflow(by: y)))
        case .divide:
            if y == 0 { throw RuntimeFailure("division by zero") }
            return .float(Self.trueDivide(x, y))
        case .floorDivide:
            if y == 0 { throw RuntimeFailure("integer division or modulo by zero") }
            // Int.min // -1 is 2**63 in Python: one past Int.max.
            let q = try Self.checked(x.dividedReportingOverflow(by: y))
            return .int((x % y != 0 && ((x < 0) != (y < 0))) ? q - 1 : q)
        case .modulo:
            if y == 0 { throw RuntimeFailure("integer modulo by zero") }
            if y == -1 { return .int(0) }  // Int.min % -1 traps in Swift; it is 0 in Python.
            let m = x % y
            return .int(m != 0 && ((m < 0) != (y < 0)) ? m + y : m)
        case .power:
            if y < 0 {
                if x == 0 { throw RuntimeFailure("0.0 cannot be raised to a negative power") }
                return .float(try Self.floatPower(Double(x), Double(y)))
            }
            var result = 1, base = x, e = y
            while e > 0 {
                if e & 1 == 1 { result = try Self.checked(result.multipliedReportingOverflow(by: base)) }
                e >>= 1
                if e > 0 { base = try Self.checked(base.multipliedReportingOverflow(by: base)) }
            }
            return .int(result)
        }
    }

    /// `x / y` for integers, correctly rounded as CPython's `long_true_divide` is. Below 2^53
    /// both operands are exact doubles and one IEEE division rounds once; above, converting
    /// first would round twice (`(2**53 + 1) / 3`), so the quotient is taken in 128-bit
    /// integers with at least 62 significant bits plus a sticky bit for the remainder, and
    /// rounded once by the conversion. `y` is non-zero.
    static func trueDivide(_ x: Int, _ y: Int) -> Double {
        let exact = 1 << 53
        if x.magnitude <= UInt(exact), y.magnitude <= UInt(exact) { return Double(x) / Double(y) }
        let a = UInt64(x.magnitude), b = UInt64(y.magnitude)
        if a == 0 { return (x < 0) == (y < 0) ? 0.0 : -0.0 }
        // Shift the dividend as far as 128 bits allow: numerator in [2^126, 2^127), so the
        // quotient is at least 2^62 and its lowest bit lies well below the rounding position.
        let shift = 127 - (64 - a.leadingZeroBitCount)
        let numerator = UInt128(a) << shift
        let (q, r) = numerator.quotientAndRemainder(dividingBy: UInt128(b))
        let magnitude = Double(r == 0 ? q : q | 1)
        let result = Double(sign: .plus, exponent: -shift, significand: magnitude)
        return (x < 0) == (y < 0) ? result : -result
    }

    /// CPython `float_divmod`: the floor quotient and the remainder with the divisor's sign
    /// (`7.0 // 0.1` is 69.0, not floor(7.0 / 0.1) = 70.0). `y` is non-zero.
    static func floatDivmod(_ x: Double, _ y: Double) -> (quotient: Double, remainder: Double) {
        var mod = fmod(x, y)
        var div = (x - mod) / y
        if mod != 0 {
            if (y < 0) != (mod < 0) {
                mod += y
                div -= 1
            }
        } else {
            mod = Double(signOf: y, magnitudeOf: 0)
        }
        var floorDiv: Double
        if div != 0 {
            floorDiv = div.rounded(.down)
            if div - floorDiv > 0.5 { floorDiv += 1 }
        } else {
            floorDiv = Double(signOf: x / y, magnitudeOf: 0)
        }
        return (floorDiv, mod)
    }

    /// CPython `float_pow`: errors where Python raises (a zero base with a negative exponent, a
    /// negative base with a fractional exponent, whose result would be complex, and overflow).
    static func floatPower(_ x: Double, _ y: Double) throws -> Double {
        if x == 0 && y < 0 { throw RuntimeFailure("0.0 cannot be raised to a negative power") }
        if x < 0 && x.isFinite && y.isFinite && y != y.rounded(.towardZero) {
            throw RuntimeFailure("a negative number raised to a fractional power is complex (not supported in templates)")
        }
        let r = Foundation.pow(x, y)
        if r.isInfinite && x.isFinite && y.isFinite { throw RuntimeFailure("(34, 'Numerical result out of range')") }
        return r
    }

    /// Python `int(d)` for a float: truncation, an error where Python raises (infinity) or the
    /// result needs more than 64 bits; nil for NaN (which `int` filters treat as "not a number").
    static func integer(truncating d: Double) throws -> Int? {
        if d.isNaN { return nil }
        if d.isInfinite { throw RuntimeFailure("cannot convert float infinity to integer") }
        guard let i = Int(exactly: d.rounded(.towardZero)) else { throw integerOverflow }
        return i
    }

    /// Python `abs(int)`: `abs(-2**63)` does not fit.
    static func absolute(_ i: Int) throws -> Int {
        if i == Int.min { throw integerOverflow }
        return i < 0 ? -i : i
    }

    /// `range(start, stop, step)` as a list, counted exactly like Python's `range.__len__` (no
    /// intermediate value can overflow: every item lies between start and stop).
    func rangeList(_ start: Int, _ stop: Int, _ step: Int) throws -> TemplateValue {
        if step == 0 { throw RuntimeFailure("range() arg 3 must not be zero") }
        let span = step > 0 ? Int128(stop) - Int128(start) : Int128(start) - Int128(stop)
        let magnitude = step > 0 ? Int128(step) : -Int128(step)
        let count128 = span <= 0 ? 0 : (span - 1) / magnitude + 1
        if count128 > Int128(limits.maxRange) {
            throw RuntimeFailure("Range too big. The sandbox blocks ranges larger than MAX_RANGE (\(limits.maxRange)).")
        }
        let count = Int(count128)
        try reserveList(count)
        var items: [TemplateValue] = []
        items.reserveCapacity(count)
        var value = start
        for i in 0..<count {
            items.append(.int(value))
            if i + 1 < count { value = value &+ step }  // stays within [start, stop): no overflow
        }
        return .list(items)
    }
}
