import Foundation

/// jinja2's built-in filters (the subset chat templates use) plus Hugging Face's `tojson`.
extension TemplateInterpreter {
    func applyFilter(_ name: String, _ value: TemplateValue, _ args: Arguments) throws -> TemplateValue {
        switch name {
        case "trim":
            let chars = args.value(0, "chars").flatMap { $0.asString }
            return .string(PythonText.strip(try str(value), chars: chars, leading: true, trailing: true))
        case "length", "count":
            return .int(try length(value))
        case "join":
            var items = try iterate(value)
            if let attr = args.value(1, "attribute") { items = try items.map { try attributePath($0, attr) } }
            let sep = try args.value(0, "d").map { try str($0) } ?? ""
            return .string(try joined(try items.map { try str($0) }, separator: sep))
        case "tojson":
            return .string(try toJSON(value, args))
        case "items":
            switch value {
            case .dict(let d):
                try reserveList(d.count * 3)
                return .list(d.map { .tuple([.string($0.key), $0.value]) })
            case .undefined: return .list([])
            default: throw RuntimeFailure("Can only get item pairs from a mapping.")
            }
        case _ where ["selectattr", "rejectattr", "select", "reject", "map"].contains(name) && !value.truthy:
            // jinja2 checks `if value:` before iterating, so falsy non-iterables give nothing.
            return .list([])
        case "selectattr", "rejectattr":
            let select = name == "selectattr"
            guard let attr = args.value(0, "attribute") else { throw RuntimeFailure("\(name) requires an attribute name") }
            let testName = args.positional.count > 1 ? args.positional[1].asString : nil
            let testArgs = Arguments(positional: Array(args.positional.dropFirst(2)), keyword: [])
            return .list(try iterate(value).filter { item in
                let v = try attributePath(item, attr)
                let ok = try testName.map { try applyTest($0, v, testArgs) } ?? v.truthy
                return ok == select
            })
        case "select", "reject":
            let select = name == "select"
            let testName = args.positional.first?.asString
            let testArgs = Arguments(positional: Array(args.positional.dropFirst(1)), keyword: [])
            return .list(try iterate(value).filter { item in
                let ok = try testName.map { try applyTest($0, item, testArgs) } ?? item.truthy
                return ok == select
            })
        case "map":
            let items = try iterate(value)
            try reserveList(items.count)
            if let attr = args.value(-1, "attribute") {
                let fallback = args.value(-1, "default")
                return .list(try items.map {
                    let v = try attributePath($0, attr)
                    if v.isUndefined, let fallback { return fallback }
                    return v
                })
            }
            guard let filterName = args.positional.first?.asString else { throw RuntimeFailure("map requires a filter name or attribute=") }
            let rest = Arguments(positional: Array(args.positional.dropFirst()), keyword: args.keyword)
            return .list(try items.map { try applyFilter(filterName, $0, rest) })
        case "first":
            switch value {
            case .undefined: return value
            default:
                return try iterate(value).first ?? .undefined(hint: "No first item, sequence was empty.")
            }
        case "last":
            return try iterate(value).last ?? .undefined(hint: "No last item, sequence was empty.")
        // Case mappings grow a string at most threefold; the result is charged once built.
        case "upper": return .string(try mapped(try str(value), PythonText.upper))
        case "lower": return .string(try mapped(try str(value), PythonText.lower))
        case "capitalize": return .string(try mapped(try str(value), PythonText.capitalize))
        case "title": return .string(try mapped(try str(value), jinjaTitle))
        case "default", "d":
            let fallback = args.value(0, "default_value") ?? .string("")
            let boolean = args.value(1, "boolean")?.truthy ?? false
            if value.isUndefined || (boolean && !value.truthy) { return fallback }
            return value
        case "string":
            return .string(try str(value))
        case _ where (name == "int" || name == "float") && value.isUndefined:
            // int(Undefined) / float(Undefined) raise in jinja2.
            if case .undefined(let hint) = value { throw RuntimeFailure(hint) }
            return value
        case "int":
            return try toInt(value, fallback: args.value(0, "default") ?? .int(0), base: args.value(1, "base")?.asInt ?? 10)
        case "float":
            return toFloat(value, fallback: args.value(0, "default") ?? .float(0))
        case "list":
            let items = try iterate(value)
            try reserveList(items.count)
            return .list(items)
        case "unique":
            let caseSensitive = args.value(0, "case_sensitive")?.truthy ?? false
            let attr = args.value(1, "attribute")
            var seen: [TemplateValue] = []
            var out: [TemplateValue] = []
            for item in try iterate(value) {
                var key = try attr.map { try attributePath(item, $0) } ?? item
                if !caseSensitive, case .string(let s) = key { key = .string(try mapped(s, PythonText.lower)) }
                if !(try seen.contains(where: { try equal($0, key) })) {
                    seen.append(key)
                    out.append(item)
                }
            }
            return .list(out)
        case "replace":
            guard let old = try args.value(0, "old").map({ try str($0) }), let new = try args.value(1, "new").map({ try str($0) }) else {
                throw RuntimeFailure("replace requires old and new strings")
            }
            let count = args.value(2, "count")?.asInt ?? -1
            return .string(try replaced(try str(value), old, new, count: count))
        case "indent":
            guard case .string(let text) = value else {
                throw RuntimeFailure("unsupported operand type(s) for +=: '\(value.typeName)' and 'str'")
            }
            return .string(try indent(text, args))
        case "abs":
            switch value.number {
            case .int(let i): return .int(try Self.absolute(i))
            case .float(let d): return .float(Swift.abs(d))
            case nil: throw RuntimeFailure("bad operand type for abs(): '\(value.typeName)'")
            }
        case "round":
            return try round(value, args)
        case "safe":
            return value
        case "escape", "e", "forceescape":
            let text = try str(value)
            // Escapes are at most five bytes: size the result before building it.
            var extra = 0
            for b in text.utf8 { if b == 0x26 || b == 0x22 || b == 0x27 { extra += 4 } else if b == 0x3C || b == 0x3E { extra += 3 } }
            try reserveString(text.utf8.count, plus: 1, times: extra)
            return .string(htmlEscape(text))
        case "reverse":
            if case .string(let s) = value {
                if PythonText.isASCII(s) { return .string(String(decoding: s.utf8.reversed(), as: UTF8.self)) }
                return .string(try mapped(s) { PythonText.string(scalars: $0.unicodeScalars.reversed()) })
            }
            let items = try iterate(value)
            try reserveList(items.count)
            return .list(items.reversed())
        case "sort":
            let reverse = args.value(0, "reverse")?.truthy ?? false
            let caseSensitive = args.value(1, "case_sensitive")?.truthy ?? false
            let attr = args.value(2, "attribute")
            let items = try iterate(value)
            let keys = try items.map { item -> TemplateValue in
                let k = try attr.map { try attributePath(item, $0) } ?? item
                if !caseSensitive, case .string(let s) = k { return .string(try mapped(s, PythonText.lower)) }
                return k
            }
            var order = Array(items.indices)
            try reserveList(items.count)
            try stableSort(&order) { try less(keys[$0], keys[$1]) }
            if reverse {
                try stableSort(&order) { try less(keys[$1], keys[$0]) }
            }
            return .list(order.map { items[$0] })
        case "sum":
            let attr = args.value(0, "attribute")
            var total = args.value(1, "start") ?? .int(0)
            for item in try iterate(value) {
                total = try binary(.add, total, try attr.map { try attributePath(item, $0) } ?? item)
            }
            return total
        case "min", "max":
            let caseSensitive = args.value(0, "case_sensitive")?.truthy ?? false
            let attr = args.value(1, "attribute")
            var best: (TemplateValue, TemplateValue)?
            for item in try iterate(value) {
                var k = try attr.map { try attributePath(item, $0) } ?? item
                if !caseSensitive, case .string(let s) = k { k = .string(try mapped(s, PythonText.lower)) }
                if let (bk, _) = best {
                    let better = name == "min" ? try less(k, bk) : try less(bk, k)
                    if better { best = (k, item) }
                } else {
                    best = (k, item)
                }
            }
            return best?.1 ?? .undefined(hint: "No \(name) item, sequence was empty.")
        case "format":
            let text = try PythonPercentFormat.format(try str(value), .tuple(args.positional), limit: limits.maxStringBytes)
            try reserveString(text.utf8.count)
            return .string(text)
        case "dictsort":
            guard case .dict(let d) = value else { throw RuntimeFailure("You can only sort by either \"key\" or \"value\" of a dict") }
            let caseSensitive = args.value(0, "case_sensitive")?.truthy ?? false
            let byValue = (args.value(1, "by")?.asString ?? "key") == "value"
            let reverse = args.value(2, "reverse")?.truthy ?? false
            let pairs = Array(d.elements)
            let keys: [TemplateValue] = try pairs.map { pair in
                let k = byValue ? pair.1 : .string(pair.0)
                if !caseSensitive, case .string(let s) = k { return .string(try mapped(s, PythonText.lower)) }
                return k
            }
            var order = Array(pairs.indices)
            try reserveList(pairs.count * 3)
            try stableSort(&order) { reverse ? try less(keys[$1], keys[$0]) : try less(keys[$0], keys[$1]) }
            return .list(order.map { .tuple([.string(pairs[$0].0), pairs[$0].1]) })
        case "attr":
            // Attribute lookup only: unlike `.name`, no fallback to dict keys.
            guard case .string(let attr)? = args.value(0, "name") else { throw RuntimeFailure("attr requires an attribute name") }
            if case .undefined(let hint) = value { throw RuntimeFailure(hint) }
            return attributeOnly(value, attr) ?? .undefined(hint: "'\(value.typeName) object' has no attribute '\(attr)'")
        case "batch":
            guard let size = args.value(0, "linecount")?.asInt, size > 0 else { throw RuntimeFailure("batch requires a positive size") }
            let fill = args.value(1, "fill_with")
            var batches: [TemplateValue] = []
            var current: [TemplateValue] = []
            let items = try iterate(value)
            // Items, the fill of the last batch, and one list per batch.
            let padding = fill == nil || items.count % size == 0 ? 0 : size - items.count % size
            let total = (items.count + items.count / size + 1).addingReportingOverflow(padding)
            try reserveList(total.overflow ? -1 : total.partialValue)
            for item in items {
                current.append(item)
                if current.count == size { batches.append(.list(current)); current = [] }
            }
            if !current.isEmpty {
                if let fill, case .none = fill {} else if let fill {
                    while current.count < size { current.append(fill) }
                }
                batches.append(.list(current))
            }
            return .list(batches)
        case "center":
            let width = args.value(0, "width")?.asInt ?? 80
            return try callMethod(.string(try str(value)), "center", Arguments(positional: [.int(width)], keyword: []))
        case "wordcount":
            // len(re.findall(r"\w+", str(value)))
            var words = 0, inWord = false
            for c in try str(value).unicodeScalars {
                let isWord = c == "_" || c.properties.isAlphabetic || c.properties.numericType != nil
                if isWord && !inWord { words += 1 }
                inWord = isWord
            }
            return .int(words)
        default:
            throw RuntimeFailure("unknown filter '\(name)'")
        }
    }

    /// `len()`
    func length(_ value: TemplateValue) throws -> Int {
        switch value {
        case .string(let s): return PythonText.length(s)
        case .list(let a), .tuple(let a): return a.count
        case .dict(let d): return d.count
        case .undefined: return 0
        default: throw RuntimeFailure("object of type '\(value.typeName)' has no len()")
        }
    }

    /// jinja2 `make_attrgetter`: dotted path, each part looked up like a subscript; integer parts index.
    func attributePath(_ item: TemplateValue, _ path: TemplateValue) throws -> TemplateValue {
        if let i = path.asInt { return try getItem(item, .int(i)) }
        var v = item
        for part in PythonText.split(try str(path), separator: ".", maxSplit: -1) {
            v = try getItem(v, Int(part).map { .int($0) } ?? .string(part))
        }
        return v
    }

    /// Hugging Face's `tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)`.
    private func toJSON(_ value: TemplateValue, _ args: Arguments) throws -> String {
        var indent: String?
        switch args.value(1, "indent") {
        case .int(let n)?:
            if n > 4096 { throw RuntimeFailure("tojson indent too large") }
            indent = String(repeating: " ", count: max(0, n))
        case .string(let s)?: indent = s
        case .none?, nil: indent = nil
        case let other?: throw RuntimeFailure("tojson indent must be an int or a string, got \(other.typeName)")
        }
        var options = PythonFormat.JSONOptions(indent: indent, itemSeparator: indent == nil ? ", " : ",", keySeparator: ": ",
                                               sortKeys: args.value(3, "sort_keys")?.truthy ?? false,
                                               maxDepth: limits.maxValueDepth, maxBytes: limits.maxStringBytes)
        if let sep = args.value(2, "separators"), let parts = sep.sequenceItems, parts.count == 2,
           case .string(let item) = parts[0], case .string(let key) = parts[1] {
            options.itemSeparator = item
            options.keySeparator = key
        }
        do {
            var json = try PythonFormat.json(value, options)
            // \uXXXX escapes at most triple the size (4 UTF-8 bytes become 12).
            if args.value(0, "ensure_ascii")?.truthy ?? false { json = asciiEscaped(json) }
            try reserveString(json.utf8.count)
            return json
        } catch let f as PythonFormat.JSONFailure {
            throw RuntimeFailure(f.message)
        }
    }

    /// `ensure_ascii=True`: non-ASCII code points as `\uXXXX` (UTF-16 surrogate pairs above the BMP).
    private func asciiEscaped(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            if c.isASCII { out.unicodeScalars.append(c); continue }
            for unit in String(c).utf16 { out += "\\u" + PythonFormat.hex(UInt32(unit), 4) }
        }
        return out
    }

    /// jinja2 `do_int`: `int(value)` (strings in `base`), else `int(float(value))`, else the
    /// default. Python's result can be any size; one that needs more than 64 bits is an error
    /// here, and so is infinity (Python raises OverflowError for `int(inf)` too).
    private func toInt(_ value: TemplateValue, fallback: TemplateValue, base: Int) throws -> TemplateValue {
        switch value {
        case .int(let i): return .int(i)
        case .bool(let b): return .int(b ? 1 : 0)
        case .float(let d):
            return try Self.integer(truncating: d).map { .int($0) } ?? fallback
        case .string(let s):
            var t = PythonText.strip(s, chars: nil, leading: true, trailing: true).replacingOccurrences(of: "_", with: "")
            var negative = false
            if t.hasPrefix("-") || t.hasPrefix("+") { negative = t.hasPrefix("-"); t.removeFirst() }
            // Python's int(s, base) accepts the matching 0x / 0o / 0b prefix; base 0 infers it.
            var radix = base
            let lower = t.lowercased()
            for (prefix, r) in [("0x", 16), ("0o", 8), ("0b", 2)] where lower.hasPrefix(prefix) && (base == r || base == 0) {
                radix = r
                t.removeFirst(2)
            }
            if radix == 0 { radix = 10 }
            if (2...36).contains(radix), !t.isEmpty, !t.hasPrefix("-"), !t.hasPrefix("+") {
                if let i = Int((negative ? "-" : "") + t, radix: radix) { return .int(i) }
                // All digits but too long for 64 bits: Python would return a big integer.
                if t.allSatisfy({ $0.isASCII && $0.hexDigitValue.map { $0 < radix } ?? ($0.isLetter && radix > 16) }) {
                    throw Self.integerOverflow
                }
            }
            // int(float(s)): jinja2 catches the OverflowError of "inf" here (not for a float value).
            if base == 10, let d = Double(t), d.isFinite { return .int(try Self.integer(truncating: negative ? -d : d)!) }
            return fallback
        default:
            return fallback
        }
    }

    private func toFloat(_ value: TemplateValue, fallback: TemplateValue) -> TemplateValue {
        switch value {
        case .int, .bool, .float: return .float(value.asDouble!)
        case .string(let s):
            let t = PythonText.strip(s, chars: nil, leading: true, trailing: true)
            switch PythonText.lower(t) {
            case "inf", "+inf", "infinity", "+infinity": return .float(.infinity)
            case "-inf", "-infinity": return .float(-.infinity)
            case "nan", "+nan", "-nan": return .float(.nan)
            default: break
            }
            if let d = Double(t) { return .float(d) }
            return fallback
        default:
            return fallback
        }
    }

    /// jinja2 `do_indent`, refused before building a result over the string limit.
    private func indent(_ s: String, _ args: Arguments) throws -> String {
        let width = args.value(0, "width")
        let indention: String
        if case .string(let w)? = width {
            indention = w
        } else {
            let n = max(0, width?.asInt ?? 4)
            try reserveString(n)
            indention = String(repeating: " ", count: n)
        }
        let first = args.value(1, "first")?.truthy ?? false
        let blank = args.value(2, "blank")?.truthy ?? false
        // One indent per line (plus the first); the text and newlines as they are.
        try reserveString(s.utf8.count + 1, plus: PythonText.lineBreakCount(s) + 2, times: indention.utf8.count)
        let lines = PythonText.splitLines(s + "\n")
        var rv: String
        if blank {
            rv = lines.joined(separator: "\n" + indention)
        } else {
            rv = lines.first ?? ""
            if lines.count > 1 {
                rv += "\n" + lines.dropFirst().map { $0.isEmpty ? $0 : indention + $0 }.joined(separator: "\n")
            }
        }
        if first { rv = indention + rv }
        return rv
    }

    /// A string built by an operation that grows its input by a bounded factor, charged once built.
    func charged(_ s: String) throws -> TemplateValue {
        try reserveString(s.utf8.count)
        return .string(s)
    }

    private func htmlEscape(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&#34;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// jinja2 `do_title`: words start after runs of `-`, whitespace, `(`, `{`, `[`, `<`.
    private func jinjaTitle(_ s: String) -> String {
        if PythonText.isASCII(s) {
            var atWordStart = true
            return PythonText.asciiMap(s) { b in
                if PythonText.isSpace(Unicode.Scalar(b)) || b == 0x2D || b == 0x28 || b == 0x7B || b == 0x5B || b == 0x3C {
                    atWordStart = true
                    return b
                }
                defer { atWordStart = false }
                let letter = (b | 0x20) >= 0x61 && (b | 0x20) <= 0x7A
                return letter ? (atWordStart ? b & ~0x20 : b | 0x20) : b
            }
        }
        var out = String.UnicodeScalarView()
        var atWordStart = true
        for c in s.unicodeScalars {
            let isSeparator = PythonText.isSpace(c) || "-({[<".unicodeScalars.contains(c)
            if isSeparator {
                out.append(c)
                atWordStart = true
            } else if atWordStart {
                if c.isASCII { PythonText.appendTitle(c, to: &out) } else { for u in c.properties.uppercaseMapping.unicodeScalars { out.append(u) } }
                atWordStart = false
            } else {
                PythonText.appendLower(c, to: &out)
            }
        }
        return String(out)
    }

    /// Insertion-based stable sort that can throw from its comparator (Python's sort is stable).
    private func stableSort(_ a: inout [Int], _ less: (Int, Int) throws -> Bool) throws {
        if a.count < 2 { return }
        for i in 1..<a.count {
            let x = a[i]
            var j = i - 1
            while j >= 0, try less(x, a[j]) {
                a[j + 1] = a[j]
                j -= 1
            }
            a[j + 1] = x
        }
    }
}
