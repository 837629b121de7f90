/// One element of a compiled GBNF rule, as in llama.cpp's `llama_grammar_element`
/// (`src/llama-grammar.h`): a rule is a run of elements, alternatives are separated by
/// ``Kind/alternative`` and the rule ends with ``Kind/end``.
public struct GrammarElement: Sendable, Hashable {
    /// What an element stands for.
    public enum Kind: UInt8, Sendable {
        /// End of a rule definition.
        case end
        /// Start of another alternative of the same rule.
        case alternative
        /// A non-terminal: `value` is the referenced rule's id.
        case ruleReference
        /// A terminal character (code point `value`); following ``characterAlternative`` and
        /// ``characterRangeUpper`` elements widen it into a class.
        case character
        /// Like ``character``, but the class is negated (`[^...]`).
        case characterNot
        /// Upper bound (inclusive) of a range whose lower bound is the previous element.
        case characterRangeUpper
        /// Another character (or range start) of the current class.
        case characterAlternative
        /// Any character (`.`).
        case characterAny
    }

    public let kind: Kind
    public let value: UInt32

    public init(_ kind: Kind, _ value: UInt32 = 0) {
        self.kind = kind
        self.value = value
    }

    /// True for the elements that end an alternative.
    var endsSequence: Bool { kind == .end || kind == .alternative }

    /// True for the elements that begin a character class (a terminal).
    var isCharacterStart: Bool { kind == .character || kind == .characterNot || kind == .characterAny }
}
