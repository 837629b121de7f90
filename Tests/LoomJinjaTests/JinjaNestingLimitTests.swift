import XCTest
@testable import LoomJinja

/// Deeply nested values and template text must end in a named `TemplateError`, never a stack
/// overflow (issue #21 item 3). Before the nesting limit, each of the 60 000-level templates
/// below crashed the process with SIGSEGV: in `tojson`, `string`, `==`, or while freeing.
final class JinjaNestingLimitTests: XCTestCase {
    private static let deepList = """
        {% set ns = namespace(x=[]) %}
        {% for i in range(60000) %}{% set ns.x = [ns.x] %}{% endfor %}
        """

    func testRuntimeNestingIsCappedWithANamedError() {
        // jinja2 itself fails these with RecursionError (tojson, string, ==) or builds them.
        for tail in ["{{ ns.x|tojson }}", "{{ ns.x|string }}", "{{ ns.x == ns.x }}", "done"] {
            assertTemplateError(Self.deepList + tail, contains: "nested deeper than 512 levels", line: 2)
        }
    }

    func testEveryWayOfNestingIsCapped() {
        let loops = [
            "{% set ns.x = {'a': ns.x} %}",
            "{% set ns.x = dict(a=ns.x) %}",
            "{% set ns.x = (ns.x, 1) %}",
            "{% set ns.x = namespace(x=ns.x) %}",
            "{% set ns.x = ns.x|batch(1)|list %}",
            "{% set ns.x = {'a': ns.x}|items|list %}",
            "{% set ns.x = [ns.x].copy %}",
            // A loop object keeps its items; a macro keeps the scope it was defined in.
            "{% for l in [ns.x] %}{% set ns.x = loop %}{% endfor %}",
        ]
        for body in loops {
            let source = "{% set ns = namespace(x=[1]) %}{% for i in range(60000) %}\(body){% endfor %}done"
            assertTemplateError(source, contains: "nested deeper than 512 levels")
        }
        let macroChain = """
            {% set ns = namespace(x=none) %}{% for i in range(60000) %}{% for p in [ns.x] %}\
            {% macro m() %}{{ p }}{% endmacro %}{% set ns.x = m %}{% endfor %}{% endfor %}done
            """
        assertTemplateError(macroChain, limits: TemplateLimits(maxSteps: 50_000_000), contains: "nested deeper than 512 levels")
    }

    func testValuesUpToTheCapWorkAndAreFreed() throws {
        // 511 wraps of [] make a value 512 levels deep: the cap itself, still allowed.
        let atCap = "{% set ns = namespace(x=[]) %}{% for i in range(511) %}{% set ns.x = [ns.x] %}{% endfor %}"
        XCTAssertEqual(try renderTemplate(atCap + "{{ ns.x|tojson|length }}"), "1024")
        XCTAssertEqual(try renderTemplate(atCap + "{{ ns.x|string|length }} {{ ns.x == ns.x }} {{ ns.x < [ns.x] }}"), "1024 True True")
        assertTemplateError(atCap + "{% set ns.x = [ns.x] %}", contains: "nested deeper than 512 levels", line: 1)
        // A larger cap is honoured by every walk and by deallocation (recursive in Swift).
        // (Each store walks the value: building n levels one at a time costs n^2/2 steps.)
        let limits = TemplateLimits(maxSteps: 3_000_000, maxValueDepth: 1500)
        let deep = "{% set ns = namespace(x=[]) %}{% for i in range(1499) %}{% set ns.x = [ns.x] %}{% endfor %}"
        XCTAssertEqual(try renderTemplate(deep + "{{ ns.x|string|length }} {{ ns.x == ns.x }} {{ ns.x|tojson|length }}", limits: limits),
                       "3000 True 3000")
        assertTemplateError(deep + "{% set ns.x = [ns.x] %}", limits: limits, contains: "nested deeper than 1500 levels")
    }

    func testANamespaceCannotContainItself() throws {
        // jinja2 allows the cycle and prints "<Namespace {'x': [<Namespace {...}>]}>"; Loom
        // refuses to build it (a cycle of reference-counted objects also never frees).
        assertTemplateError("{% set ns = namespace(x=1) %}\n{% set ns.x = [ns] %}{{ ns }}", contains: "inside itself", line: 2)
        assertTemplateError("{% set ns = namespace(x=1) %}{% set ns.x = {'a': [namespace(y=ns)]} %}", contains: "inside itself")
        // Two namespaces referring to each other only through a third value are fine.
        XCTAssertEqual(try renderTemplate("{% set a = namespace(x=1) %}{% set b = namespace(y=a) %}{% set a.x = 2 %}{{ b.y.x }}"), "2")
    }

    func testSharedValuesDoNotMakeWalksExponential() {
        // 30 doublings share storage: 2^30 items if walked naively.
        let doubling = "{% set ns = namespace(x=[]) %}{% for i in range(30) %}{% set ns.x = [ns.x, ns.x] %}{% endfor %}{{ ns.x|string }}"
        assertTemplateError(doubling, limits: TemplateLimits(maxSteps: 200_000), contains: "execution steps")
    }

    func testParserNestingIsBounded() {
        let n = 100_000
        let cases = [
            "{{ " + String(repeating: "(", count: n) + "1" + String(repeating: ")", count: n) + " }}",
            "{{ " + String(repeating: "[", count: n) + String(repeating: "]", count: n) + " }}",
            "{{ " + String(repeating: "{'a': ", count: n) + "1" + String(repeating: "}", count: n) + " }}",
            String(repeating: "{% if true %}", count: n) + String(repeating: "{% endif %}", count: n),
            String(repeating: "{% for i in [1] %}", count: n) + String(repeating: "{% endfor %}", count: n),
            "{{ " + String(repeating: "not ", count: n) + "1 }}",
            "{{ " + String(repeating: "-", count: n) + "1 }}",
            "{{ 1" + String(repeating: " + 1", count: n) + " }}",
            "{{ 'a'" + String(repeating: "|trim", count: n) + " }}",
            "{{ x" + String(repeating: ".a", count: n) + " }}",
            "{{ x" + String(repeating: "[0]", count: n) + " }}",
            "{{ f" + String(repeating: "()", count: n) + " }}",
            "{{ 1 if " + String(repeating: "1 if ", count: n) + "1 }}",
            "{% set " + String(repeating: "(", count: n) + "a" + String(repeating: ")", count: n) + " = 1 %}",
        ]
        for source in cases {
            XCTAssertThrowsError(try ChatTemplate(source: source)) { error in
                guard let e = error as? TemplateError else { return XCTFail("\(error)") }
                XCTAssertEqual(e.kind, .syntax, "\(e)")
            }
        }
    }
}
