/// The state of a ``Grammar`` after some text: a set of pushdown stacks over the grammar's
/// elements, as in llama.cpp's `llama_grammar_advance_stack` / `llama_grammar_accept`
/// (`src/llama-grammar.cpp`), plus the bytes of a UTF-8 character not yet complete.
///
/// Each stack lists positions in the grammar, the top (last) one a terminal the next
/// character must match; an empty stack means the text so far is a complete sentence. The
/// matcher works on code points and takes bytes, so a token may end inside a character.
///
/// ```swift
/// var matcher = GrammarMatcher(grammar: try Grammar(gbnf: #"root ::= [0-9]+"#))
/// matcher.accept(Array("42".utf8))   // true
/// matcher.canEnd                     // true
/// ```
public struct GrammarMatcher: Sendable {
    typealias Stack = [Int32]

    /// An incomplete UTF-8 character: the bits read so far and how many bytes are missing.
    struct PartialCharacter: Sendable, Hashable {
        var value: UInt32 = 0
        var missing: Int = 0
        /// The lead byte while the first continuation byte is still to come (it limits that
        /// byte's range); 0 after it.
        var lead: UInt8 = 0
    }

    /// The outcome of feeding one byte.
    enum ByteStep {
        case complete(UInt32)
        case pending(PartialCharacter)
        case invalid
    }

    public let grammar: Grammar
    private let elements: [GrammarElement]
    private(set) var stacks: [Stack]
    private(set) var partial = PartialCharacter()

    /// A matcher at the start of `grammar`'s root rule.
    public init(grammar: Grammar) {
        self.grammar = grammar
        elements = grammar.elements
        stacks = []
        var seen = Set<Stack>()
        var out: [Stack] = []
        var position = Int(grammar.ruleStarts[grammar.rootID])
        while true {
            let stack: Stack = elements[position].endsSequence ? [] : [Int32(position)]
            advance(stack, into: &out, seen: &seen)
            while !elements[position].endsSequence { position += 1 }
            if elements[position].kind == .end { break }
            position += 1
        }
        stacks = out
    }

    /// Whether the text so far is a complete sentence of the grammar (generation may end).
    public var canEnd: Bool {
        partial.missing == 0 && stacks.contains { $0.isEmpty }
    }

    /// Whether the text so far is complete and nothing may follow it.
    public var mustEnd: Bool {
        canEnd && stacks.count == 1
    }

    /// Whether `bytes` may follow the text so far (as a prefix of a longer sentence or a
    /// complete one). Does not change the matcher.
    public func accepts(_ bytes: [UInt8]) -> Bool {
        var copy = self
        return copy.accept(bytes)
    }

    /// Feeds `bytes`; returns false (leaving the matcher unchanged) if they cannot follow.
    @discardableResult
    public mutating func accept(_ bytes: [UInt8]) -> Bool {
        var current = stacks
        var pending = partial
        for byte in bytes {
            guard let next = step(current, pending, byte) else { return false }
            current = next.stacks
            pending = next.partial
        }
        stacks = current
        partial = pending
        return true
    }

    /// Whether `text` as a whole is a sentence of the grammar (for tests and validation).
    public func matches(_ text: String) -> Bool {
        var copy = self
        return copy.accept(Array(text.utf8)) && copy.canEnd
    }

    // MARK: - Engine

    /// The stacks and partial character after `byte`, or nil if no stack can take it.
    func step(_ stacks: [Stack], _ partial: PartialCharacter, _ byte: UInt8) -> (stacks: [Stack], partial: PartialCharacter)? {
        switch Self.decode(partial, byte) {
        case .invalid:
            return nil
        case .pending(let next):
            guard stacks.contains(where: { couldMatch($0, next) }) else { return nil }
            return (stacks, next)
        case .complete(let codePoint):
            let next = accept(codePoint, stacks)
            return next.isEmpty ? nil : (next, PartialCharacter())
        }
    }

    /// Whether the stacks allow some character that starts with the bytes of `partial`.
    func anyCouldMatch(_ stacks: [Stack], _ partial: PartialCharacter) -> Bool {
        partial.missing == 0 || stacks.contains { couldMatch($0, partial) }
    }

    /// The stacks after one code point.
    private func accept(_ codePoint: UInt32, _ stacks: [Stack]) -> [Stack] {
        var out: [Stack] = []
        var seen = Set<Stack>()
        for stack in stacks {
            guard let top = stack.last else { continue }
            let (matched, after) = match(Int(top), codePoint)
            guard matched else { continue }
            var next = stack
            next.removeLast()
            if !elements[after].endsSequence { next.append(Int32(after)) }
            advance(next, into: &out, seen: &seen)
        }
        return out
    }

    /// Expands rule references at the top of `stack` until every resulting stack has a
    /// terminal on top (or is empty), adding each new one to `out` once.
    private func advance(_ stack: Stack, into out: inout [Stack], seen: inout Set<Stack>) {
        var todo = [stack]
        while let current = todo.popLast() {
            guard seen.insert(current).inserted else { continue }
            guard let top = current.last else {
                out.append(current)
                continue
            }
            let element = elements[Int(top)]
            switch element.kind {
            case .ruleReference:
                var alternative = Int(grammar.ruleStarts[Int(element.value)])
                while true {
                    var next = current
                    next.removeLast()
                    if !elements[Int(top) + 1].endsSequence { next.append(top + 1) }
                    if !elements[alternative].endsSequence { next.append(Int32(alternative)) }
                    todo.append(next)
                    while !elements[alternative].endsSequence { alternative += 1 }
                    if elements[alternative].kind == .end { break }
                    alternative += 1
                }
            case .character, .characterNot, .characterAny:
                out.append(current)
            default:
                // A range bound or class continuation never starts an item; the parser does
                // not produce such a stack top.
                break
            }
        }
    }

    /// Whether the terminal (class) at `position` matches `codePoint`, and the position after it.
    private func match(_ position: Int, _ codePoint: UInt32) -> (Bool, Int) {
        var p = position
        let positive = elements[p].kind != .characterNot
        var found = false
        repeat {
            let e = elements[p]
            if e.kind == .characterAny {
                found = true
                p += 1
            } else if elements[p + 1].kind == .characterRangeUpper {
                found = found || (e.value <= codePoint && codePoint <= elements[p + 1].value)
                p += 2
            } else {
                found = found || e.value == codePoint
                p += 1
            }
        } while elements[p].kind == .characterAlternative
        if elements[position].kind == .characterAny { found = true }
        return (found == positive, p)
    }

    /// Whether the terminal on top of `stack` could match some character beginning with the
    /// bytes of `partial` (the code points `low...high`); a negated class is given the benefit
    /// of the doubt unless one of its ranges covers them all.
    private func couldMatch(_ stack: Stack, _ partial: PartialCharacter) -> Bool {
        guard let top = stack.last else { return false }
        let shift = UInt32(6 * partial.missing)
        var low = partial.value << shift
        var high = low | ((1 << shift) - 1)
        // After a lead byte alone, the well-formed range is narrower than its bits say.
        switch partial.lead {
        case 0xE0: low = 0x800
        case 0xED: high = 0xD7FF
        case 0xF0: low = 0x10000
        case 0xF4: high = 0x10FFFF
        default: break
        }
        var p = Int(top)
        let kind = elements[p].kind
        if kind == .characterAny { return true }
        repeat {
            let e = elements[p]
            var upper = e.value
            if elements[p + 1].kind == .characterRangeUpper {
                upper = elements[p + 1].value
                p += 2
            } else {
                p += 1
            }
            if kind == .characterNot {
                if e.value <= low && high <= upper { return false }
            } else if e.value <= high && low <= upper {
                return true
            }
        } while elements[p].kind == .characterAlternative
        return kind == .characterNot
    }

    /// One byte of UTF-8 on top of an incomplete character, accepting exactly the well-formed
    /// sequences of Unicode's table 3-7: no stray continuation bytes, no overlong forms (C0,
    /// C1, E0 80–9F, F0 80–8F), no surrogates (ED A0–BF) and nothing beyond U+10FFFF (F4 90–,
    /// F5–FF). An overlong form would let the grammar see a character that a UTF-8 decoder
    /// (the detokenizer) turns into U+FFFD, e.g. E0 80 A0 as a space.
    static func decode(_ partial: PartialCharacter, _ byte: UInt8) -> ByteStep {
        if partial.missing > 0 {
            var low: UInt8 = 0x80
            var high: UInt8 = 0xBF
            switch partial.lead {
            case 0xE0: low = 0xA0
            case 0xED: high = 0x9F
            case 0xF0: low = 0x90
            case 0xF4: high = 0x8F
            default: break
            }
            guard byte >= low, byte <= high else { return .invalid }
            let value = partial.value << 6 | UInt32(byte & 0x3F)
            if partial.missing == 1 { return .complete(value) }
            return .pending(PartialCharacter(value: value, missing: partial.missing - 1))
        }
        switch byte {
        case 0x00...0x7F: return .complete(UInt32(byte))
        case 0xC2...0xDF: return .pending(PartialCharacter(value: UInt32(byte & 0x1F), missing: 1, lead: byte))
        case 0xE0...0xEF: return .pending(PartialCharacter(value: UInt32(byte & 0x0F), missing: 2, lead: byte))
        case 0xF0...0xF4: return .pending(PartialCharacter(value: UInt32(byte & 0x07), missing: 3, lead: byte))
        default: return .invalid
        }
    }
}
