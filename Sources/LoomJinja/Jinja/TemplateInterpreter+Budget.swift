/// The render budget (``TemplateLimits``): every operation that creates a string or a list asks
/// here first, with the size it is about to allocate.
extension TemplateInterpreter {
    /// Counts `n` units of work (a statement, a loop iteration, items walked by a filter).
    @inline(__always)
    func step(_ n: Int = 1) throws {
        steps = steps.addingReportingOverflow(n).partialValue
        if steps > limits.maxSteps || steps < 0 {
            throw RuntimeFailure("template exceeded \(limits.maxSteps) execution steps")
        }
    }

    /// Reserves a string of `bytes` UTF-8 bytes about to be created.
    func reserveString(_ bytes: Int) throws {
        if bytes < 0 || bytes > limits.maxStringBytes {
            throw RuntimeFailure("string result larger than \(limits.maxStringBytes) bytes (the template string limit)")
        }
        try reserveAllocation(bytes)
    }

    /// Reserves a string whose size is `base + count * each` bytes, computed without overflow.
    func reserveString(_ base: Int, plus count: Int, times each: Int) throws {
        let product = count.multipliedReportingOverflow(by: each)
        let total = base.addingReportingOverflow(product.partialValue)
        if product.overflow || total.overflow { try reserveString(-1) }
        try reserveString(total.partialValue)
    }

    /// Reserves a list or tuple of `count` items about to be created (charged to the total
    /// allocation budget at `MemoryLayout<TemplateValue>.stride` bytes per item).
    func reserveList(_ count: Int) throws {
        let bytes = count.multipliedReportingOverflow(by: MemoryLayout<TemplateValue>.stride)
        if count < 0 || bytes.overflow || bytes.partialValue > limits.maxAllocatedBytes {
            throw RuntimeFailure("list result longer than \(limits.maxAllocatedBytes / MemoryLayout<TemplateValue>.stride) items (the template allocation limit)")
        }
        try reserveAllocation(bytes.partialValue)
    }

    private func reserveAllocation(_ bytes: Int) throws {
        let total = allocated.addingReportingOverflow(bytes)
        if total.overflow || total.partialValue > limits.maxAllocatedBytes {
            throw RuntimeFailure("template allocated more than \(limits.maxAllocatedBytes) bytes of strings and lists")
        }
        allocated = total.partialValue
    }

    /// Appends to the rendered output (or a captured block), which must stay within the string limit.
    func emit(_ s: String, to out: inout String) throws {
        let total = out.utf8.count.addingReportingOverflow(s.utf8.count)
        if total.overflow || total.partialValue > limits.maxStringBytes {
            throw RuntimeFailure("rendered output larger than \(limits.maxStringBytes) bytes (the template string limit)")
        }
        out += s
    }

    /// A case mapping (or other per-code-point rewrite) of `s`: code points outside ASCII go
    /// through Unicode tables at about a microsecond each, so they count as steps first; the
    /// result (at most three times the input) is charged once built.
    func mapped(_ s: String, _ transform: (String) -> String) throws -> String {
        try step(PythonText.nonASCIICount(s))
        let result = transform(s)
        try reserveString(result.utf8.count)
        return result
    }

    /// `str(value)` within the string limit; containers are charged as new strings.
    func str(_ v: TemplateValue) throws -> String {
        switch v {
        case .string(let s): return s
        case .undefined: return ""
        case .int(let i): return String(i)
        default: return try repr(v)
        }
    }

    /// `repr(value)` within the string limit.
    func repr(_ v: TemplateValue) throws -> String {
        let text = try PythonFormat.repr(v, limit: limits.maxStringBytes)
        try reserveString(text.utf8.count)
        return text
    }

    /// Refuses to store a value nested deeper than `maxValueDepth` (so that walking and freeing
    /// stored values stays within the stack), or, with `owner`, a value that reaches the
    /// namespace it is stored into: only namespace attributes can form cycles, and refusing them
    /// keeps every value a finite tree (jinja2 allows the cycle; Loom names it instead).
    /// Walks iteratively; every node visited counts as a step, so a value shared many times
    /// (`[x, x]` repeated) cannot make the walk exponential.
    func checkDepth(_ value: TemplateValue, storingInto owner: TemplateNamespace? = nil) throws {
        guard Self.isContainer(value) else { return }
        let cap = limits.maxValueDepth
        var stack: [(TemplateValue, Int)] = [(value, 1)]
        var deepest: [ObjectIdentifier: Int] = [:]
        while let (v, depth) = stack.popLast() {
            let children: [TemplateValue]
            switch v {
            case .list(let a), .tuple(let a): children = a
            case .dict(let d): children = Array(d.values)
            case .namespace(let ns):
                if ns === owner {
                    throw RuntimeFailure("cannot store a namespace inside itself (the value would contain itself)")
                }
                // A namespace reached again is walked again only if this path is deeper.
                let id = ObjectIdentifier(ns)
                if let seen = deepest[id], seen >= depth { continue }
                deepest[id] = depth
                children = Array(ns.attributes.values)
            case .method(let receiver, _): children = [receiver]
            case .loop(let loop): children = loop.items
            case .macro(let m):
                // A macro keeps its defining scope alive: loop and macro-call scopes up to (not
                // including) the template root, whose variables are freed with the render.
                let id = ObjectIdentifier(m)
                if let seen = deepest[id], seen >= depth { continue }
                deepest[id] = depth
                var scopeValues: [TemplateValue] = []
                var scope: TemplateScope? = m.closure
                while let s = scope, s.parent != nil {
                    scopeValues.append(contentsOf: s.variables.values)
                    scope = s.parent
                }
                children = scopeValues
            default: continue
            }
            if depth > cap {
                throw RuntimeFailure("value nested deeper than \(cap) levels (the template nesting limit)")
            }
            try step(children.count)
            for child in children where Self.isContainer(child) { stack.append((child, depth + 1)) }
        }
    }

    static func isContainer(_ v: TemplateValue) -> Bool {
        switch v {
        case .list, .tuple, .dict, .namespace, .method, .loop, .macro: return true
        default: return false
        }
    }
}
