import Foundation

/// Python methods on str, dict and list, the `loop` helpers, and the environment's globals.
extension TemplateInterpreter {
    func callMethod(_ receiver: TemplateValue, _ name: String, _ args: Arguments) throws -> TemplateValue {
        switch receiver {
        case .string(let s): return try stringMethod(s, name, args)
        case .dict(let d):
            switch name {
            case "items":
                try reserveList(d.count * 3)
                return .list(d.map { .tuple([.string($0.key), $0.value]) })
            case "keys":
                try reserveList(d.count)
                return .list(d.keys.map { .string($0) })
            case "values":
                try reserveList(d.count)
                return .list(Array(d.values))
            case "copy": return receiver
            case "get":
                guard let key = args.value(0, "key") else { throw RuntimeFailure("get expected at least 1 argument, got 0") }
                let fallback = args.value(1, "default") ?? .none
                if case .string(let k) = key { return d[k] ?? fallback }
                return fallback
            default: break
            }
        case .list(let items), .tuple(let items):
            switch name {
            case "copy": return receiver
            case "count":
                guard let x = args.value(0, "value") else { throw RuntimeFailure("count() takes exactly one argument") }
                return .int(try items.filter { try equal($0, x) }.count)
            case "index":
                guard let x = args.value(0, "value") else { throw RuntimeFailure("index() takes at least 1 argument") }
                guard let i = try items.firstIndex(where: { try equal($0, x) }) else {
                    throw RuntimeFailure("\(PythonFormat.preview(x)) is not in list")
                }
                return .int(i)
            default: break
            }
        case .loop(let loop):
            if name == "cycle" {
                guard !args.positional.isEmpty else { throw RuntimeFailure("no items for cycling given") }
                return args.positional[loop.index0 % args.positional.count]
            }
        default: break
        }
        throw RuntimeFailure("'\(receiver.typeName)' object has no callable attribute '\(name)'")
    }

    private func stringArgument(_ args: Arguments, _ i: Int, _ name: String, method: String) throws -> String? {
        guard let v = args.value(i, name) else { return nil }
        if case .none = v { return nil }
        guard case .string(let s) = v else {
            throw RuntimeFailure("\(method)() argument must be str or None, not \(v.typeName)")
        }
        return s
    }

    private func stringMethod(_ s: String, _ name: String, _ args: Arguments) throws -> TemplateValue {
        switch name {
        case "strip", "lstrip", "rstrip":
            let chars = try stringArgument(args, 0, "chars", method: name)
            return .string(PythonText.strip(s, chars: chars, leading: name != "rstrip", trailing: name != "lstrip"))
        case "startswith", "endswith":
            guard let p = args.value(0, "prefix") else { throw RuntimeFailure("\(name)() takes at least 1 argument (0 given)") }
            let candidates: [TemplateValue] = p.sequenceItems ?? [p]
            for c in candidates {
                guard case .string(let t) = c else {
                    throw RuntimeFailure("\(name) first arg must be str or a tuple of str, not \(c.typeName)")
                }
                if name == "startswith" ? PythonText.hasPrefix(s, t) : PythonText.hasSuffix(s, t) { return .bool(true) }
            }
            return .bool(false)
        case "split", "rsplit":
            let sep = try stringArgument(args, 0, "sep", method: name)
            if sep == "" { throw RuntimeFailure("empty separator") }
            let maxSplit = args.value(1, "maxsplit")?.asInt ?? -1
            // Count the parts first: splitting a huge string into tiny parts must not allocate
            // them all before the size limit is checked.
            try reserveList(sep.map { PythonText.replacementCount(s, $0, count: maxSplit) + 1 } ?? PythonText.wordCount(s))
            let parts: [String]
            if name == "rsplit", let sep {
                parts = PythonText.rsplit(s, separator: sep, maxSplit: maxSplit)
            } else if name == "rsplit", maxSplit >= 0 {
                // rsplit() on whitespace with a limit: split the reversed text.
                let rev = PythonText.string(scalars: s.unicodeScalars.reversed())
                parts = PythonText.split(rev, separator: nil, maxSplit: maxSplit).reversed()
                    .map { PythonText.string(scalars: $0.unicodeScalars.reversed()) }
            } else {
                parts = PythonText.split(s, separator: sep, maxSplit: maxSplit)
            }
            return .list(parts.map { .string($0) })
        case "splitlines":
            try reserveList(PythonText.lineBreakCount(s) + 1)
            let lines = PythonText.splitLines(s)
            return .list(lines.map { .string($0) })
        case "upper": return .string(try mapped(s, PythonText.upper))
        case "lower": return .string(try mapped(s, PythonText.lower))
        case "title": return .string(try mapped(s, PythonText.title))
        case "capitalize": return .string(try mapped(s, PythonText.capitalize))
        case "swapcase":
            return .string(try mapped(s, PythonText.swapcase))
        case "replace":
            guard let old = try stringArgument(args, 0, "old", method: name), let new = try stringArgument(args, 1, "new", method: name) else {
                throw RuntimeFailure("replace() takes at least 2 arguments")
            }
            return .string(try replaced(s, old, new, count: args.value(2, "count")?.asInt ?? -1))
        case "find", "rfind", "index", "rindex", "count":
            guard let sub = try stringArgument(args, 0, "sub", method: name) else { throw RuntimeFailure("\(name)() takes at least 1 argument") }
            let hay = Array(s.utf8), needle = Array(sub.utf8)
            var positions: [Int] = []
            var from = 0
            while let at = PythonText.find(needle, in: hay, from: from) {
                positions.append(at)
                if name == "find" || name == "index" { break }
                from = at + max(needle.count, 1)
                if from > hay.count { break }
            }
            if name == "count" { return .int(positions.count) }
            let at = (name == "find" || name == "index") ? positions.first : positions.last
            guard let at else {
                if name == "index" || name == "rindex" { throw RuntimeFailure("substring not found") }
                return .int(-1)
            }
            return .int(PythonText.string(hay[..<at]).unicodeScalars.count)
        case "join":
            guard let items = args.value(0, "iterable") else { throw RuntimeFailure("join() takes exactly one argument") }
            var parts: [String] = []
            for (i, item) in try iterate(items).enumerated() {
                guard case .string(let t) = item else {
                    throw RuntimeFailure("sequence item \(i): expected str instance, \(item.typeName) found")
                }
                parts.append(t)
            }
            return .string(try joined(parts, separator: s))
        case "format":
            let text = try PythonBraceFormat.format(s, args.positional, args.keyword, limit: limits.maxStringBytes)
            try reserveString(text.utf8.count)
            return .string(text)
        case "isdigit", "isdecimal", "isnumeric":
            return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.numericType != nil })
        case "isalpha":
            return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.isAlphabetic })
        case "isalnum":
            return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.isAlphabetic || $0.properties.numericType != nil })
        case "isspace":
            return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy(PythonText.isSpace))
        case "islower":
            return try .bool(s.unicodeScalars.contains(where: PythonText.isCased) && PythonText.equal(mapped(s, PythonText.lower), s))
        case "isupper":
            return try .bool(s.unicodeScalars.contains(where: PythonText.isCased) && PythonText.equal(mapped(s, PythonText.upper), s))
        case "removeprefix":
            let p = try stringArgument(args, 0, "prefix", method: name) ?? ""
            return .string(PythonText.hasPrefix(s, p) ? PythonText.string(Array(s.utf8).dropFirst(p.utf8.count)) : s)
        case "removesuffix":
            let p = try stringArgument(args, 0, "suffix", method: name) ?? ""
            return .string(!p.isEmpty && PythonText.hasSuffix(s, p) ? PythonText.string(Array(s.utf8).dropLast(p.utf8.count)) : s)
        case "zfill", "center", "ljust", "rjust":
            guard let width = args.value(0, "width")?.asInt else { throw RuntimeFailure("\(name)() requires an integer width") }
            let n = PythonText.length(s)
            if width <= n { return .string(s) }
            let fill = name == "zfill" ? "0" : (try stringArgument(args, 1, "fillchar", method: name) ?? " ")
            if fill.unicodeScalars.count != 1 { throw RuntimeFailure("The fill character must be exactly one character long") }
            let pad = width - n
            try reserveString(s.utf8.count, plus: pad, times: fill.utf8.count)
            switch name {
            case "ljust": return .string(s + String(repeating: fill, count: pad))
            case "rjust": return .string(String(repeating: fill, count: pad) + s)
            case "center":
                let left = pad / 2 + (pad & width & 1)
                return .string(String(repeating: fill, count: left) + s + String(repeating: fill, count: pad - left))
            default:
                if let f = s.unicodeScalars.first, f == "+" || f == "-" {
                    return .string(String(f) + String(repeating: "0", count: pad) + String(s.unicodeScalars.dropFirst()))
                }
                return .string(String(repeating: "0", count: pad) + s)
            }
        default:
            break
        }
        throw RuntimeFailure("'str' object has no attribute '\(name)'")
    }

    // MARK: - Globals

    /// transformers' TemplateNamespace refuses underscore-prefixed attributes.
    static func underscoreNamespaceMessage(_ name: String) -> String {
        "Chat templates cannot store underscore-prefixed attributes on a namespace, but got \(PythonFormat.stringRepr(name)). Please rename the attribute."
    }

    func callBuiltin(_ f: TemplateValue.BuiltinFunction, _ args: Arguments, location: SourceLocation) throws -> TemplateValue {
        switch f {
        case .raiseException:
            let message = try args.value(0, "message").map { try str($0) } ?? ""
            throw TemplateError(.raised, message, at: location)
        case .strftimeNow:
            guard case .string(let format)? = args.value(0, "format") else {
                throw RuntimeFailure("strftime_now() requires a format string")
            }
            return try charged(try Strftime.format(format, date: now, timeZone: timeZone, limit: limits.maxStringBytes))
        case .range:
            var bounds: [Int] = []
            for v in args.positional {
                guard let i = v.asInt else { throw RuntimeFailure("'\(v.typeName)' object cannot be interpreted as an integer") }
                bounds.append(i)
            }
            let (start, stop, step): (Int, Int, Int)
            switch bounds.count {
            case 1: (start, stop, step) = (0, bounds[0], 1)
            case 2: (start, stop, step) = (bounds[0], bounds[1], 1)
            case 3: (start, stop, step) = (bounds[0], bounds[1], bounds[2])
            default: throw RuntimeFailure("range expected 1 to 3 arguments, got \(bounds.count)")
            }
            return try rangeList(start, stop, step)
        case .dict, .namespace:
            var d = TemplateDictionary()
            if let first = args.positional.first {
                switch first {
                case .dict(let initial): d = initial
                default:
                    for pair in try iterate(first) {
                        guard let kv = pair.sequenceItems, kv.count == 2, case .string(let k) = kv[0] else {
                            throw RuntimeFailure("\(f.rawValue)() expects a mapping or (key, value) pairs")
                        }
                        d[k] = kv[1]
                    }
                }
            }
            for (k, v) in args.keyword { d[k] = v }
            if f == .namespace, let bad = d.keys.first(where: { $0.hasPrefix("_") }) {
                throw RuntimeFailure(Self.underscoreNamespaceMessage(bad))
            }
            return f == .dict ? .dict(d) : .namespace(TemplateNamespace(d))
        }
    }

    // MARK: - Sized string building

    /// `str.replace`, refused before building a result over the string limit.
    func replaced(_ s: String, _ old: String, _ new: String, count: Int) throws -> String {
        if new.utf8.count > old.utf8.count {
            let n = PythonText.replacementCount(s, old, count: count)
            try reserveString(s.utf8.count, plus: n, times: new.utf8.count - old.utf8.count)
        } else {
            try reserveString(s.utf8.count)
        }
        return PythonText.replace(s, old, new, count: count)
    }

    /// `separator.join(parts)`, refused before building a result over the string limit.
    func joined(_ parts: [String], separator: String) throws -> String {
        var bytes = 0
        for p in parts {
            bytes = bytes.addingReportingOverflow(p.utf8.count).partialValue
            if bytes < 0 || bytes > limits.maxStringBytes { try reserveString(-1) }
        }
        try reserveString(bytes, plus: max(0, parts.count - 1), times: separator.utf8.count)
        return parts.joined(separator: separator)
    }
}
