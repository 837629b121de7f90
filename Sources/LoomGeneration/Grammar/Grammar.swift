/// A compiled GBNF grammar (llama.cpp's grammar format, `grammars/README.md`), ready to
/// constrain generation through a ``GrammarMatcher``.
///
/// ```swift
/// let grammar = try Grammar(gbnf: #"root ::= "yes" | "no""#)
/// var options = GenerationOptions(maxTokens: 8)
/// options.grammar = grammar
/// ```
///
/// Compiling checks what would otherwise fail during generation: every referenced rule is
/// defined, a `root` rule exists, and no rule is left-recursive (the pushdown matcher, like
/// llama.cpp's, would loop on one; write `list ::= item ("," item)*` instead of
/// `list ::= list "," item | item`).
public struct Grammar: Sendable, Equatable {
    /// All rules' elements, each rule ending with ``GrammarElement/Kind/end``.
    let elements: [GrammarElement]
    /// Where each rule (by id) starts in ``elements``.
    let ruleStarts: [Int32]
    /// Rule names by id (generated helper rules are named `base_N`).
    public let ruleNames: [String]
    /// The id of the start rule (`root`).
    public let rootID: Int
    /// The grammar text this was compiled from.
    public let source: String

    /// Parses and checks a GBNF grammar whose start rule is named `root`.
    ///
    /// - Throws: ``GrammarError`` naming the line and column of a syntax error, an undefined
    ///   rule, a missing `root` rule, or the cycle of a left-recursive rule.
    public init(gbnf source: String, startRule: String = "root") throws {
        var parser = GrammarParser(source)
        let parsed = try parser.parse()
        guard let root = parsed.ids[startRule], parsed.rules[root] != nil else {
            throw GrammarError("the grammar has no '\(startRule)' rule (generation starts there)")
        }
        var names = [String](repeating: "", count: parsed.ids.count)
        for (name, id) in parsed.ids { names[id] = name }
        var elements: [GrammarElement] = []
        var starts: [Int32] = []
        for id in 0..<names.count {
            starts.append(Int32(elements.count))
            guard let rule = parsed.rules[id] else {
                let (line, column) = parsed.firstReference[id] ?? (nil, nil)
                throw GrammarError(line: line, column: column, "undefined rule '\(names[id])'")
            }
            elements += rule
        }
        self.elements = elements
        self.ruleStarts = starts
        self.ruleNames = names
        self.rootID = root
        self.source = source
        try checkLeftRecursion()
    }

    /// The elements of rule `id` (alternatives separated, ending with `.end`).
    func rule(_ id: Int) -> ArraySlice<GrammarElement> {
        let start = Int(ruleStarts[id])
        let end = id + 1 < ruleStarts.count ? Int(ruleStarts[id + 1]) : elements.count
        return elements[start..<end]
    }

    /// The alternatives of rule `id`, each a slice of element indices (without separators).
    private func alternatives(_ id: Int) -> [[GrammarElement]] {
        var result: [[GrammarElement]] = [[]]
        for element in rule(id) {
            if element.endsSequence {
                if element.kind == .end { break }
                result.append([])
            } else {
                result[result.count - 1].append(element)
            }
        }
        return result
    }

    /// Refuses rules that can reach themselves without consuming a character (directly, or
    /// through rules that can match the empty string), as llama.cpp's
    /// `llama_grammar_detect_left_recursion` does; the error names the cycle.
    private func checkLeftRecursion() throws {
        let count = ruleNames.count
        let alts = (0..<count).map { alternatives($0) }
        // Nullable rules by fixpoint: an alternative of only nullable references is nullable.
        var nullable = [Bool](repeating: false, count: count)
        var changed = true
        while changed {
            changed = false
            for id in 0..<count where !nullable[id] {
                let empty = alts[id].contains { alt in
                    alt.allSatisfy { $0.kind == .ruleReference && nullable[Int($0.value)] }
                }
                if empty {
                    nullable[id] = true
                    changed = true
                }
            }
        }
        // Left edges: the references reachable at the start of an alternative.
        var edges = [[Int]](repeating: [], count: count)
        for id in 0..<count {
            for alt in alts[id] {
                for element in alt {
                    guard element.kind == .ruleReference else { break }
                    edges[id].append(Int(element.value))
                    if !nullable[Int(element.value)] { break }
                }
            }
        }
        // Depth-first search for a cycle: 0 unvisited, 1 on the path, 2 done.
        var state = [UInt8](repeating: 0, count: count)
        var path: [Int] = []
        func visit(_ id: Int) throws {
            state[id] = 1
            path.append(id)
            for next in edges[id] {
                if state[next] == 1 {
                    let cycle = path[path.lastIndex(of: next)!...].map { ruleNames[$0] } + [ruleNames[next]]
                    throw GrammarError(
                        "rule '\(ruleNames[next])' is left-recursive (\(cycle.joined(separator: " -> "))); "
                            + "rewrite it with repetition, e.g. `list ::= item (\",\" item)*`")
                }
                if state[next] == 0 { try visit(next) }
            }
            path.removeLast()
            state[id] = 2
        }
        for id in 0..<count where state[id] == 0 { try visit(id) }
    }
}
