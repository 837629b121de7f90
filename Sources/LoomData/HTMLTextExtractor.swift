/// Extracts the main text of an HTML page: headings and paragraphs, without scripts, styles,
/// navigation, headers, footers, sidebars and other site chrome.
///
/// A small tolerant tokenizer of its own (no DOM): broken markup (unclosed tags, stray end
/// tags, unquoted attributes, an unterminated comment) never throws, it yields the text it
/// can. Dropped are the elements browsers do not render as body text (`script`, `style`,
/// `head`, `template`, …), the HTML5 sectioning elements for chrome (`nav`, `header`,
/// `footer`, `aside`; WHATWG HTML §4.3) and elements whose ARIA role or class names mark them
/// as chrome (`role="navigation"`, Sphinx's `sphinxsidebar` and `related` bars, …).
/// Block elements end lines; paragraphs, headings and list blocks are separated by a blank
/// line; whitespace collapses as in rendering, except inside `pre`.
public struct HTMLTextExtractor: Sendable {
    /// Elements whose content is never main text.
    public var droppedElements: Set<String> = [
        "script", "style", "noscript", "template", "head", "svg", "math", "iframe", "object", "canvas",
        "nav", "header", "footer", "aside", "form", "select", "button", "menu", "dialog",
    ]
    /// Class or id tokens that mark site chrome (compared in lowercase).
    public var chromeNames: Set<String> = [
        "sidebar", "sphinxsidebar", "sphinxsidebarwrapper", "related", "navbar", "navigation", "nav", "menu",
        "footer", "header", "breadcrumb", "breadcrumbs", "headerlink", "cookie-banner", "skip-link", "toc-sidebar",
        "site-header", "site-footer", "masthead",
    ]
    /// ARIA landmark roles of chrome.
    public var chromeRoles: Set<String> = ["navigation", "banner", "contentinfo", "search", "complementary"]

    static let voidElements: Set<String> = [
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr",
    ]
    /// Elements that end a line.
    static let lineElements: Set<String> = [
        "div", "section", "article", "main", "li", "dt", "dd", "tr", "br", "hr", "figure", "figcaption", "caption",
        "address", "details", "summary", "body", "html", "center",
    ]
    /// Elements set off by a blank line.
    static let paragraphElements: Set<String> = [
        "p", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "blockquote", "table", "ul", "ol", "dl", "title",
    ]
    /// Elements a new one of the same name implicitly closes (HTML's optional end tags).
    static let selfClosingSiblings: Set<String> = ["p", "li", "dt", "dd", "tr", "td", "th", "option"]

    /// An extractor with the default element and class lists.
    public init() {}

    /// The main text of `html`.
    public func extract(_ html: String) -> String {
        var state = ExtractionState()
        let bytes = Array(html.utf8)
        let n = bytes.count
        var i = 0
        var textStart = 0
        while i < n {
            guard bytes[i] == UInt8(ascii: "<") else { i += 1; continue }
            // Flush text before the tag.
            if textStart < i { state.text(bytes[textStart ..< i]) }
            let next = i + 1 < n ? bytes[i + 1] : 0
            if next == UInt8(ascii: "!") && i + 3 < n && bytes[i + 2] == UInt8(ascii: "-") && bytes[i + 3] == UInt8(ascii: "-") {
                i = Self.find(bytes, "-->", from: i + 4).map { $0 + 3 } ?? n
            } else if next == UInt8(ascii: "!") || next == UInt8(ascii: "?") {
                i = bytes[i...].firstIndex(of: UInt8(ascii: ">")).map { $0 + 1 } ?? n
            } else if next == UInt8(ascii: "/") || Self.isLetter(next) {
                let (tag, end) = Self.parseTag(bytes, at: i)
                i = end
                if tag.isEnd {
                    state.close(tag.name, extractor: self)
                } else {
                    let chrome = droppedElements.contains(tag.name) || isChrome(tag.attributes)
                    state.open(tag.name, chrome: chrome, selfClosing: tag.selfClosing, extractor: self)
                    if (tag.name == "script" || tag.name == "style" || tag.name == "textarea") && !tag.selfClosing {
                        // Raw text: everything up to the matching end tag is content, not markup.
                        let close = Self.findCaseInsensitive(bytes, "</" + tag.name, from: i) ?? n
                        if tag.name == "textarea" && !state.skipping { state.text(bytes[i ..< close]) }
                        i = close
                    }
                }
            } else {
                // A lone '<' is text: it starts the next text run (what came before is flushed).
                textStart = i
                i += 1
                continue
            }
            textStart = i
        }
        if textStart < n { state.text(bytes[textStart ..< n]) }
        return state.finish()
    }

    func isChrome(_ attributes: [(String, String)]) -> Bool {
        for (name, value) in attributes {
            switch name {
            case "role": if chromeRoles.contains(value.lowercased()) { return true }
            case "class", "id":
                for token in value.lowercased().split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }) where chromeNames.contains(String(token)) {
                    return true
                }
            case "aria-hidden": if value.lowercased() == "true" { return true }
            case "hidden": return true
            default: break
            }
        }
        return false
    }

    struct Tag {
        var name: String
        var isEnd: Bool
        var selfClosing: Bool
        var attributes: [(String, String)]
    }

    static func isLetter(_ b: UInt8) -> Bool { (b | 0x20) >= UInt8(ascii: "a") && (b | 0x20) <= UInt8(ascii: "z") }
    static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D || b == 0x0C }

    /// Parses the tag starting at `bytes[start] == "<"`; returns it and the index after its `>`.
    static func parseTag(_ bytes: [UInt8], at start: Int) -> (Tag, Int) {
        let n = bytes.count
        var i = start + 1
        var isEnd = false
        if i < n && bytes[i] == UInt8(ascii: "/") { isEnd = true; i += 1 }
        let nameStart = i
        while i < n && !isSpace(bytes[i]) && bytes[i] != UInt8(ascii: ">") && bytes[i] != UInt8(ascii: "/") { i += 1 }
        let name = String(decoding: bytes[nameStart ..< i], as: UTF8.self).lowercased()
        var attributes: [(String, String)] = []
        var selfClosing = false
        while i < n {
            while i < n && isSpace(bytes[i]) { i += 1 }
            guard i < n else { break }
            if bytes[i] == UInt8(ascii: ">") { i += 1; break }
            if bytes[i] == UInt8(ascii: "/") { selfClosing = true; i += 1; continue }
            let keyStart = i
            while i < n && !isSpace(bytes[i]) && bytes[i] != UInt8(ascii: "=") && bytes[i] != UInt8(ascii: ">") && bytes[i] != UInt8(ascii: "/") { i += 1 }
            let key = String(decoding: bytes[keyStart ..< i], as: UTF8.self).lowercased()
            if i == keyStart { i += 1; continue }  // stray character
            while i < n && isSpace(bytes[i]) { i += 1 }
            var value = ""
            if i < n && bytes[i] == UInt8(ascii: "=") {
                i += 1
                while i < n && isSpace(bytes[i]) { i += 1 }
                if i < n && (bytes[i] == UInt8(ascii: "\"") || bytes[i] == UInt8(ascii: "'")) {
                    let quote = bytes[i]
                    let valueStart = i + 1
                    let valueEnd = bytes[valueStart...].firstIndex(of: quote) ?? n
                    value = String(decoding: bytes[valueStart ..< valueEnd], as: UTF8.self)
                    i = min(n, valueEnd + 1)
                } else {
                    let valueStart = i
                    while i < n && !isSpace(bytes[i]) && bytes[i] != UInt8(ascii: ">") { i += 1 }
                    value = String(decoding: bytes[valueStart ..< i], as: UTF8.self)
                }
            }
            attributes.append((key, value))
        }
        return (Tag(name: name, isEnd: isEnd, selfClosing: selfClosing, attributes: attributes), i)
    }

    static func find(_ bytes: [UInt8], _ needle: String, from: Int) -> Int? {
        let pattern = Array(needle.utf8)
        guard !pattern.isEmpty, from <= bytes.count - pattern.count else { return nil }
        var i = from
        while i <= bytes.count - pattern.count {
            if bytes[i] == pattern[0] && bytes[i ..< i + pattern.count].elementsEqual(pattern) { return i }
            i += 1
        }
        return nil
    }

    static func findCaseInsensitive(_ bytes: [UInt8], _ needle: String, from: Int) -> Int? {
        let pattern = Array(needle.lowercased().utf8)
        guard !pattern.isEmpty, from <= bytes.count - pattern.count else { return nil }
        var i = from
        outer: while i <= bytes.count - pattern.count {
            for j in 0 ..< pattern.count {
                var b = bytes[i + j]
                if b >= 0x41 && b <= 0x5A { b |= 0x20 }
                if b != pattern[j] { i += 1; continue outer }
            }
            return i
        }
        return nil
    }
}

/// The open elements and the text built so far.
struct ExtractionState {
    private var stack: [(name: String, chrome: Bool)] = []
    private var chromeDepth = 0
    private var preDepth = 0
    private var lines: [String] = []
    private var current = ""
    private var pendingSpace = false

    var skipping: Bool { chromeDepth > 0 }

    mutating func open(_ name: String, chrome: Bool, selfClosing: Bool, extractor: HTMLTextExtractor) {
        if HTMLTextExtractor.selfClosingSiblings.contains(name), let top = stack.last, top.name == name {
            close(name, extractor: extractor)
        }
        if name == "td" || name == "th" { pendingSpace = true }
        breakFor(name)
        if HTMLTextExtractor.voidElements.contains(name) || selfClosing { return }
        stack.append((name, chrome))
        if chrome { chromeDepth += 1 }
        if name == "pre" { preDepth += 1 }
    }

    mutating func close(_ name: String, extractor: HTMLTextExtractor) {
        guard let index = stack.lastIndex(where: { $0.name == name }) else { return }  // stray end tag
        while stack.count > index {
            let element = stack.removeLast()
            if element.chrome { chromeDepth -= 1 }
            if element.name == "pre" { preDepth -= 1 }
            breakFor(element.name)
        }
    }

    private mutating func breakFor(_ name: String) {
        if HTMLTextExtractor.paragraphElements.contains(name) { endLine(blank: true) }
        else if HTMLTextExtractor.lineElements.contains(name) { endLine(blank: false) }
    }

    mutating func text(_ bytes: ArraySlice<UInt8>) {
        guard !skipping else { return }
        let decoded = HTMLEntities.decode(bytes)
        if preDepth > 0 {
            var first = true
            for part in decoded.split(separator: "\n", omittingEmptySubsequences: false) {
                if !first { endLine(blank: false, keepEmpty: true) }
                first = false
                current += part
            }
            return
        }
        for ch in decoded.unicodeScalars {
            if ch == " " || ch == "\n" || ch == "\t" || ch == "\r" || ch == "\u{0C}" {
                pendingSpace = true
            } else {
                if pendingSpace && !current.isEmpty { current.unicodeScalars.append(" ") }
                pendingSpace = false
                current.unicodeScalars.append(ch)
            }
        }
    }

    private mutating func endLine(blank: Bool, keepEmpty: Bool = false) {
        var line = current
        while line.last == " " { line.removeLast() }
        if !line.isEmpty || (keepEmpty && lines.last != "") { lines.append(line) }
        current = ""
        pendingSpace = false
        if blank && !(lines.last?.isEmpty ?? true) { lines.append("") }
    }

    mutating func finish() -> String {
        endLine(blank: false)
        var result: [String] = []
        for line in lines {
            if line.isEmpty && (result.isEmpty || result.last!.isEmpty) { continue }
            result.append(line)
        }
        while result.last?.isEmpty == true { result.removeLast() }
        return result.joined(separator: "\n")
    }
}
