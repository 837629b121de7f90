import XCTest
@testable import LoomJinja

/// Python number semantics (issue #21 item 3). jinja2 has arbitrary-precision integers; Loom
/// keeps 64-bit integers and raises a named template error, with the line, where Python's
/// result would not fit, instead of printing a wrapped value. Every expected value below was
/// checked against jinja2 3.1.6 (`ImmutableSandboxedEnvironment`); the comment gives jinja2's
/// answer where Loom differs.
final class JinjaArithmeticTests: XCTestCase {
    private func render(_ source: String, _ context: [String: JinjaValue] = [:]) throws -> String {
        try renderTemplate(source, context: context)
    }

    func testIntegerOverflowIsANamedError() {
        let overflowing = [
            "{{ -(-9223372036854775807-1) }}",  // jinja2: 9223372036854775808 (Loom printed a negative number)
            "{{ 9223372036854775807 + 1 }}",  // jinja2: 9223372036854775808
            "{{ -9223372036854775807 - 2 }}",
            "{{ 3037000500 * 3037000500 }}",  // jinja2: 9223372037000250000
            "{{ 2 ** 63 }}",  // jinja2: 9223372036854775808
            "{{ 2 ** 62 * 2 }}",
            "{{ (-9223372036854775807-1) // -1 }}",  // jinja2: 9223372036854775808
            "{{ (-9223372036854775807-1)|abs }}",  // jinja2: 9223372036854775808
            "{{ [1, 2]|sum(start=9223372036854775807) }}",
            "{{ 9223372036854775807|round(-1) }}",  // jinja2: 9223372036854775810
        ]
        for source in overflowing {
            assertTemplateError("\n" + source, contains: "integer overflow", line: 2)
        }
        // jinja2: 9223372036854775808; a syntax error naming the literal's position here.
        assertTemplateError("{{ 1 }}\n{{ 9223372036854775808 }}", contains: "does not fit in 64 bits", line: 2)
    }

    func testIntegerEdgeCasesMatchPython() throws {
        XCTAssertEqual(try render("{{ 4611686018427387904 * -2 }}"), "-9223372036854775808")
        XCTAssertEqual(try render("{{ (-2) ** 63 }}"), "-9223372036854775808")
        XCTAssertEqual(try render("{{ (-9223372036854775807-1) % -1 }}"), "0")  // traps in Swift
        XCTAssertEqual(try render("{{ (-9223372036854775807-1) is divisibleby(-1) }}"), "True")
        XCTAssertEqual(try render("{{ -7 // 2 }} {{ -7 % 2 }} {{ 7 % -2 }} {{ 2 ** -1 }}"), "-4 1 -1 0.5")
        XCTAssertEqual(try render("{{ 15|round(-1) }} {{ 25|round(-1) }} {{ -15|round(-1) }} {{ 7|round(-30) }}"), "20 20 -20 0")
        assertTemplateError("{{ 1 // 0 }}", contains: "integer division or modulo by zero")
        assertTemplateError("{{ 1 % 0 }}", contains: "integer modulo by zero")
        assertTemplateError("{{ 1 / 0 }}", contains: "division by zero")
        assertTemplateError("{{ 0 ** -1 }}", contains: "0.0 cannot be raised to a negative power")
    }

    /// Integer true division rounds once, as CPython's `long_true_divide` does; converting the
    /// operands to doubles first rounds twice above 2^53 (3002399751580330.5 for the first).
    func testIntegerTrueDivisionIsCorrectlyRounded() throws {
        XCTAssertEqual(try render("{{ 9007199254740993 / 3 }}"), "3002399751580331.0")
        XCTAssertEqual(try render("{{ 9007199254740993 / 1 }} {{ -9007199254740993 / -1 }}"), "9007199254740992.0 9007199254740992.0")
        XCTAssertEqual(try render("{{ (-9223372036854775807-1) / 3 }} {{ 9223372036854775807 / -7 }}"),
                       "-3.0744573456182584e+18 -1.3176245766935393e+18")
        XCTAssertEqual(try render("{{ 1 / 4611686018427387905 }} {{ 123456789012345678 / 1000003 }}"),
                       "2.168404344971009e-19 123456418643.08975")
        XCTAssertEqual(try render("{{ (-9223372036854775807-1) / (-9223372036854775807-1) }} {{ 0 / -1152921504606846976 }}"), "1.0 -0.0")
    }

    func testRangeCountsExactly() throws {
        // Before: the length was computed in floating point and this gave [].
        XCTAssertEqual(try render("{{ range(9223372036854775800, 9223372036854775807, 5)|list }}"),
                       "[9223372036854775800, 9223372036854775805]")
        XCTAssertEqual(try render("{{ range(-9223372036854775807-1, 9223372036854775807, 4611686018427387904)|list }}"),
                       "[-9223372036854775808, -4611686018427387904, 0, 4611686018427387904]")
        XCTAssertEqual(try render("{{ range(9223372036854775807, 9223372036854775800, -3)|list }}"),
                       "[9223372036854775807, 9223372036854775804, 9223372036854775801]")
        XCTAssertEqual(try render("{{ range(10, 0, -3)|list }} {{ range(5, 5)|list }} {{ range(0, 10, -1)|list }}"), "[10, 7, 4, 1] [] []")
        assertTemplateError("{{ range(-9223372036854775807-1, 9223372036854775807) }}", contains: "Range too big")
        assertTemplateError("{{ range(1, 2, 0) }}", contains: "must not be zero")
    }

    func testRoundMatchesPython() throws {
        // Before: 1.5|round(-1000000000) printed nan.
        XCTAssertEqual(try render("{{ 1.5|round(-1000000000) }}"), "0.0")
        XCTAssertEqual(try render("{{ 1.5|round(1000000000) }}"), "1.5")
        XCTAssertEqual(try render("{{ -1.5|round(-1) }} {{ 5.0|round(-1) }} {{ 15.0|round(-1) }} {{ 5.0000001|round(-1) }}"), "-0.0 0.0 20.0 10.0")
        XCTAssertEqual(try render("{{ 1e300|round(-300) }} {{ 1e300|round(-301) }} {{ 5e300|round(-301) }}"), "1e+300 0.0 1e+301")
        XCTAssertEqual(try render("{{ 2.675|round(2) }} {{ 0.5|round }} {{ 1.5|round }} {{ 12345.6789|round(-2) }}"), "2.67 0.0 2.0 12300.0")
        XCTAssertEqual(try render("{{ 1.5|round(-10, 'floor') }} {{ 15|round(-1, 'ceil') }} {{ 15|round(400, 'ceil') }}"), "0.0 20.0 15.0")
        XCTAssertEqual(try render("{{ x|round(2) }} {{ y|round(-5) }}", ["x": .double(.infinity), "y": .double(-.infinity)]), "inf -inf")
        assertTemplateError("{{ 1.5|round(-1000, 'ceil') }}", contains: "float division by zero")  // jinja2: ZeroDivisionError
        assertTemplateError("{{ 1.5|round(400, 'floor') }}", contains: "int too large to convert to float")  // OverflowError
        assertTemplateError("{{ 1.7e308|round(-308) }}", contains: "rounded value too large")
        assertTemplateError("{{ 1.5|round(1.5) }}", contains: "cannot be interpreted as an integer")
        assertTemplateError("{{ 1.5|round(2, 'weird') }}", contains: "method must be common, ceil or floor")
    }

    func testIntConversionsNeverTrap() throws {
        let context: [String: JinjaValue] = ["inf": .double(.infinity), "nan": .double(.nan), "big": 1e300, "edge": 9.2233720368547758e18]
        XCTAssertEqual(try render("{{ nan|int }} {{ 'nan'|int }} {{ 'inf'|int }} {{ '1e5'|int }} {{ ' -12 '|int }}", context), "0 0 0 100000 -12")
        XCTAssertEqual(try render("{{ '-9223372036854775808'|int }} {{ (-9.2233720368547758e18)|int }}"), "-9223372036854775808 -9223372036854775808")
        assertTemplateError("{{ inf|int }}", context: context, contains: "cannot convert float infinity to integer")  // OverflowError
        for source in ["{{ big|int }}", "{{ edge|int }}", "{{ '1e300'|int }}", "{{ '99999999999999999999'|int }}", "{{ '-ffffffffffffffffff'|int(0, 16) }}"] {
            assertTemplateError(source, context: context, contains: "integer overflow")  // jinja2: the big integer
        }
    }

    func testFloatOperationsMatchPython() throws {
        XCTAssertEqual(try render("{{ 7.0 // 0.1 }} {{ -7.0 % 2 }} {{ 7.0 % -2 }} {{ 0.0 % -1 }} {{ -0.0 // 1 }}"), "69.0 1.0 -1.0 -0.0 -0.0")
        XCTAssertEqual(try render("{{ 1e308 * 10 }} {{ 2 ** 0.5 }} {{ (-8) ** (1/3) if false else (-8.0) ** 2 }}"), "inf 1.4142135623730951 64.0")
        XCTAssertEqual(try render("{{ 9007199254740993 == 9007199254740992.0 }} {{ 9007199254740993 > 9007199254740992.0 }}"), "False True")
        XCTAssertEqual(try render("{{ 9223372036854775807 < 9223372036854775808.0 }} {{ x == x }}", ["x": .double(.nan)]), "True False")
        assertTemplateError("{{ 1e308 ** 2 }}", contains: "Numerical result out of range")  // OverflowError
        assertTemplateError("{{ (-8) ** 0.5 }}", contains: "complex")  // jinja2 prints a complex number
        assertTemplateError("{{ 1.0 % 0 }}", contains: "float modulo")
        assertTemplateError("{{ 1.5 // 0 }}", contains: "float floor division by zero")
    }
}
