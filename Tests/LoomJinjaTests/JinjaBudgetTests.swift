import XCTest
@testable import LoomJinja

/// One string and output budget (`TemplateLimits.maxStringBytes`), a total allocation budget and
/// a step budget apply to every operation, checked before allocating (issue #21 item 3). Most
/// cases use small limits so the tests stay fast; a few use the defaults with inputs that trip
/// them at once.
final class JinjaBudgetTests: XCTestCase {
    private static let small = TemplateLimits(maxStringBytes: 1000, maxAllocatedBytes: 100_000, maxSteps: 10_000)

    func testOutputGrowthIsBoundedWithDefaults() {
        // Before: each 60 MB string was under the 64 MB cap, so output grew without bound
        // (a hang, then a 3.8 GB allocation).
        assertTemplateError("{% for i in range(100000) %}{{ 'x' * 60000000 }}{% endfor %}",
                            contains: "rendered output larger than 67108864 bytes", line: 1)
        // Before: join built a 1 GB string although a 64 MB cap existed.
        assertTemplateError("{{ (['x' * 1000000] * 1000)|join }}", contains: "larger than 67108864 bytes")
        // Huge repeat counts are refused before allocating anything.
        assertTemplateError("{{ 'x' * 1000000000000000000 }}", contains: "larger than 67108864 bytes")
        assertTemplateError("{{ 'xy' * 9223372036854775807 }}", contains: "larger than 67108864 bytes")
        assertTemplateError("{{ [0] * 1000000000000000000 }}", contains: "list result longer")
        assertTemplateError("{{ 'x'.center(9223372036854775807) }}", contains: "larger than 67108864 bytes")
    }

    func testEveryStringOperationIsBudgeted() throws {
        let big = "{% set s = 'x' * 600 %}"
        let cases: [(String, String)] = [
            ("{{ 'x' * 1001 }}", "string"),
            ("{{ 1001 * 'x' }}", "string"),
            (big + "{{ s ~ s }}", "string"),
            (big + "{{ s + s }}", "string"),
            (big + "{{ [s, s]|join }}", "string"),
            (big + "{{ ''.join([s, s]) }}", "string"),
            (big + "{{ [s, s]|join(s) }}", "string"),
            (big + "{{ s|replace('x', 'yy') }}", "string"),
            (big + "{{ s.replace('x', 'yy') }}", "string"),
            (big + "{{ '%s%s' % (s, s) }}", "string"),
            ("{{ '%2000s' % 'a' }}", "string"),
            ("{{ '%99999999999999999999d' % 1 }}", "string"),
            (big + "{{ '%s%s'|format(s, s) }}", "string"),
            (big + "{{ '{0}{0}'.format(s) }}", "string"),
            ("{{ 'a'|center(2000) }}", "string"),
            ("{{ 'a'.ljust(2000) }}", "string"),
            ("{{ 'a'.rjust(2000, '-') }}", "string"),
            ("{{ 'a'.zfill(2000) }}", "string"),
            ("{{ 'a\nb'|indent(2000) }}", "string"),
            (big + "{{ ('a\n' * 3)|indent(s) }}", "string"),
            (big + "{{ [s, s]|tojson }}", "tojson result larger"),
            ("{{ [[[1]]]|tojson(indent=400) }}", "tojson result larger"),
            (big + "{{ [s, s]|string }}", "string"),
            (big + "{{ [s, s] }}", "string"),
            (big + "{% set t %}{{ s }}{{ s }}{% endset %}", "output"),
            (big + "{% macro m() %}{{ s }}{{ s }}{% endmacro %}{{ m() }}", "output"),
            (big + "{{ s }}{{ s }}", "output"),
            (big + "{% filter upper %}{{ s }}{{ s }}{% endfilter %}", "output"),
        ]
        for (source, fragment) in cases {
            assertTemplateError(source, limits: Self.small, contains: fragment)
        }
        // Lists are charged to the allocation budget (about 32 bytes an item) before they are made.
        let lists = TemplateLimits(maxStringBytes: 100_000, maxAllocatedBytes: 10_000)
        for source in ["{{ [0] * 1000 }}", "{{ (0,) * 1000 }}", "{{ ('x' * 999).split('x') }}", "{{ ('x ' * 499).split() }}",
                       "{{ ('\n' * 999).splitlines() }}", "{{ [1]|batch(1000, 0) }}", "{{ range(1000)|list }}"] {
            assertTemplateError(source, limits: lists, contains: "list result longer")
        }
        // The same operations under the limit render as jinja2 renders them.
        XCTAssertEqual(try renderTemplate("{{ 'ab' * 3 }}|{{ [1, 2] * 2 }}|{{ (1,) * 2 }}|{{ 'x'|center(5) }}|{{ '%3s' % 'a' }}", limits: Self.small),
                       "ababab|[1, 2, 1, 2]|(1, 1)|  x  |  a")
    }

    func testTotalAllocationIsBudgeted() {
        // Each string is under the string limit, but a loop keeps them all.
        let hoard = "{% set ns = namespace(l=[]) %}{% for i in range(1000) %}{% set ns.l = ns.l + ['x' * 900] %}{% endfor %}"
        assertTemplateError(hoard, limits: Self.small, contains: "allocated more than 100000 bytes")
        assertTemplateError("{% for i in range(1000) %}{% set x = range(30) %}{% endfor %}", limits: Self.small,
                            contains: "allocated more than 100000 bytes")
    }

    func testStepsAreBudgeted() {
        // An empty inner body executed no statement: before, only statements counted and this
        // ran 10^10 iterations.
        // (1000 x 1000 iterations ran here without error; with range(100000) twice, for hours.)
        assertTemplateError("{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}",
                            limits: TemplateLimits(maxSteps: 100_000), contains: "execution steps", line: 1)
        // Filters walking big sequences count their items.
        assertTemplateError("{% set r = range(5000) %}{% for i in range(100) %}{{ r|select|list|length }}{% endfor %}",
                            limits: TemplateLimits(maxSteps: 50_000), contains: "execution steps")
        // Case mapping outside ASCII goes through Unicode tables (about a microsecond a code
        // point): 30 M of them took minutes; they count as steps now. ASCII has a fast path.
        for source in ["{{ ('\u{390}' * 100000)|upper }}", "{{ ('\u{e9}' * 100000)|reverse }}", "{{ ('\u{c9}' * 100000).lower() }}",
                       "{{ ['\u{c9}' * 100000]|sort }}"] {
            assertTemplateError(source, limits: TemplateLimits(maxSteps: 50_000), contains: "execution steps")
        }
        XCTAssertEqual(try renderTemplate("{{ ('aB' * 50000)|upper|length }} {{ ('x-y ' * 3)|title }}", limits: TemplateLimits(maxSteps: 50_000)),
                       "100000 X-Y X-Y X-Y ")
        // Linear, not quadratic: building these by appending to a UnicodeScalarView took 30 s
        // (repr of 500 kB with backslashes) and minutes (upper of 1 M non-ASCII characters).
        let start = Date()
        XCTAssertEqual(try renderTemplate("{{ [('a\\\\' * 200000)]|string|length }} {{ ('\u{390}' * 200000)|upper|length }} " +
                                          "{{ ('\u{c9}' * 200000)|title|length }} {{ [1, 'x\\n' * 200000]|tojson|length }}"),
                       "600004 600000 200000 600007")
        XCTAssertLessThan(Date().timeIntervalSince(start), 10)
        assertTemplateError("{% for i in range(1000000000) %}{% endfor %}", contains: "Range too big")
        assertTemplateError("{% for i in range(200) %}{% endfor %}", limits: TemplateLimits(maxRange: 100), contains: "MAX_RANGE (100)")
    }

    func testRealTemplatesFitFarSmallerLimits() throws {
        // Every fixture conversation (14 real templates) renders byte-identically to jinja2
        // under limits far below the defaults.
        let tight = TemplateLimits(maxStringBytes: 1 << 20, maxAllocatedBytes: 8 << 20, maxSteps: 100_000, maxValueDepth: 64)
        let fixture = try ChatTemplateParityTests.loadFixture("chat_templates")
        guard case .array(let templates)? = fixture["templates"] else { return XCTFail("fixture") }
        var rendered = 0
        for template in templates {
            guard case .string(let source)? = template["source"], case .string(let bos)? = template["bos_token"],
                  case .string(let eos)? = template["eos_token"], case .array(let cases)? = template["cases"] else { continue }
            let chat = try ChatTemplate(source: source, limits: tight)
            XCTAssertEqual(chat.limits, tight)
            for c in cases {
                guard case .string(let expected)? = c["expected"], case .array(let messages)? = c["messages"] else { continue }
                var extra: [String: JinjaValue] = [:]
                if case .object(let pairs)? = c["extra"] { for (k, v) in pairs { extra[k] = v } }
                var tools: [JinjaValue]?
                if case .array(let t)? = c["tools"] { tools = t }
                let got = try chat.render(messages: messages, tools: tools, addGenerationPrompt: c["add_generation_prompt"] == .bool(true),
                                          extra: extra, bosToken: bos, eosToken: eos,
                                          date: ChatTemplateParityTests.fixedDate, timeZone: ChatTemplateParityTests.utc)
                XCTAssertEqual(got, expected)
                rendered += 1
            }
        }
        XCTAssertGreaterThan(rendered, 100)
    }
}
