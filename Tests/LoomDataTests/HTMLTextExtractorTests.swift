import Foundation
import XCTest
@testable import LoomData

final class HTMLTextExtractorTests: XCTestCase {
    let extractor = HTMLTextExtractor()

    func testKeepsHeadingsAndParagraphsDropsChrome() {
        let html = """
        <!DOCTYPE html><html><head><title>T</title><style>p{color:red}</style>
        <script>var x = "<p>not text</p>";</script></head>
        <body><header><a href="/">Home</a></header><nav><ul><li>Menu item</li></ul></nav>
        <div class="sphinxsidebar" role="navigation"><h3>Quick search</h3><div><p>nested</p></div></div>
        <main><h1>The Title<a class="headerlink" href="#t">¶</a></h1>
        <p>First   paragraph
        spans lines &amp; has an entity&nbsp;and &#233;&#x301; and &unknown; &lt;tag&gt;.</p>
        <p>Second <b>bold</b> <!-- a comment <p>hidden</p> --> text.</p>
        <ul><li>one<li>two</ul>
        <pre>def f():
            return 1</pre>
        </main><aside>Related posts</aside><footer>© 2024 Example</footer>
        <script type="text/javascript">document.write("</div>")</script></body></html>
        """
        let text = extractor.extract(html)
        XCTAssertEqual(text, """
        The Title

        First paragraph spans lines & has an entity\u{A0}and é\u{301} and &unknown; <tag>.

        Second bold text.

        one
        two

        def f():
            return 1
        """)
    }

    func testBrokenMarkupNeverThrowsAndKeepsText() {
        XCTAssertEqual(extractor.extract("<p>unclosed <b>bold <i>italic"), "unclosed bold italic")
        XCTAssertEqual(extractor.extract("a < b and c > d"), "a < b and c > d")
        XCTAssertEqual(extractor.extract("</div></p>stray end tags<p>ok"), "stray end tags\n\nok")
        XCTAssertEqual(extractor.extract("<p class=unquoted id='x>y'>attr</p>"), "attr")
        XCTAssertEqual(extractor.extract("text <!-- unterminated comment"), "text")
        XCTAssertEqual(extractor.extract("<script>never closed"), "")
        XCTAssertEqual(extractor.extract(""), "")
        XCTAssertEqual(extractor.extract("<p>a</p><p>b</p>"), "a\n\nb")
        XCTAssertEqual(extractor.extract("x<br>y<br/>z"), "x\ny\nz")
        XCTAssertEqual(extractor.extract("<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>"), "a b\nc")
    }

    func testEntities() {
        XCTAssertEqual(HTMLEntities.decode(Array("&amp;&lt;&gt;&quot;&#39;&#x41;&#0;&#xD800;&mdash;&copy".utf8)), "&<>\"'A\u{FFFD}\u{FFFD}—&copy")
    }

    /// A real page: an excerpt of the Python 3.11 documentation as Debian's python3-doc ships
    /// it (Sphinx output, PSF license), with its navigation bars, sidebar and footer.
    func testRealSphinxPageKeepsMainText() throws {
        let url = Bundle.module.url(forResource: "python_doc_excerpt", withExtension: "html", subdirectory: "Fixtures")!
        let html = try String(contentsOf: url, encoding: .utf8)
        let text = extractor.extract(html)
        let expectedURL = Bundle.module.url(forResource: "python_doc_excerpt", withExtension: "txt", subdirectory: "Fixtures")!
        let expected = try String(contentsOf: expectedURL, encoding: .utf8)
        // Every line html2text-style reference keeps as main text is in our output…
        let ours = Set(text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) })
        let reference = expected.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let found = reference.filter { ours.contains($0) }.count
        XCTAssertGreaterThanOrEqual(Double(found) / Double(reference.count), 0.9, "main text lines missing:\n\(reference.filter { !ours.contains($0) }.joined(separator: "\n"))")
        // …and the chrome is not.
        for chrome in ["Navigation", "Quick search", "Previous topic", "Table of Contents", "Report a Bug", "Show Source", "Copyright"] {
            XCTAssertFalse(text.contains(chrome), "chrome \"\(chrome)\" kept")
        }
    }
}
