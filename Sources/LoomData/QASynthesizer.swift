import Foundation

/// Question/answer pairs grounded in a chunk of text, written by a local model, for
/// `loom data format --synthesize qa` (the "domain instruction set" of a corpus).
///
/// The model is asked for `pairsPerChunk` pairs as `Q:`/`A:` lines, answered from the chunk
/// only. A small model invents things, so every pair is checked against the chunk: the
/// answer's content words (lowercased letters and digits, stop words left out) must occur in
/// the chunk for at least `minSupport` of them, else the pair is dropped as unsupported (a
/// token-overlap test in the spirit of the grounding checks of self-instruct pipelines; it
/// cannot see paraphrase, so it errs towards dropping). The model comes in as a function
/// (prompt text → reply), so this module needs no model code; the CLI passes one.
public struct QASynthesizer {
    /// Pairs asked for per chunk.
    public var pairsPerChunk = 3
    /// The least fraction of an answer's content words found in the chunk.
    public var minSupport = 0.75
    /// The model: the user message in, the assistant's reply out.
    public let generate: (String) throws -> String

    /// A synthesizer that asks `generate`.
    public init(generate: @escaping (String) throws -> String) { self.generate = generate }

    /// The instruction for one chunk.
    public func prompt(for chunk: String) -> String {
        """
        Read the text below. Write \(pairsPerChunk) questions that the text answers, each followed by its answer \
        taken from the text. Use the words of the text. Write each pair as two lines:
        Q: <question>
        A: <answer>

        Text:
        \(chunk)
        """
    }

    /// The `Q:`/`A:` pairs of a reply (numbering, bullets and bold markers ignored).
    public static func parse(_ reply: String) -> [(question: String, answer: String)] {
        var pairs: [(question: String, answer: String)] = []
        var question: String?
        for raw in reply.split(whereSeparator: \.isNewline) {
            var line = Substring(raw).drop { $0.isWhitespace || $0.isNumber || "-*#.)".contains($0) }
            line = Substring(line.replacingOccurrences(of: "**", with: ""))
            func value(after prefixes: [String]) -> String? {
                for p in prefixes where line.lowercased().hasPrefix(p) {
                    return line.dropFirst(p.count).trimmingCharacters(in: .whitespaces)
                }
                return nil
            }
            if let q = value(after: ["q:", "question:"]) {
                question = q.isEmpty ? nil : q
            } else if let a = value(after: ["a:", "answer:"]), let q = question, !a.isEmpty {
                pairs.append((q, a))
                question = nil
            }
        }
        return pairs
    }

    /// English function words, not evidence of grounding.
    static let stopWords: Set<String> = [
        "a", "an", "the", "and", "or", "but", "of", "to", "in", "on", "at", "by", "for", "with", "from", "as", "is", "are",
        "was", "were", "be", "been", "it", "its", "this", "that", "these", "those", "which", "what", "who", "can", "you",
        "your", "they", "their", "there", "not", "no", "yes", "if", "so", "do", "does", "has", "have", "will", "also",
    ]

    /// Lowercased runs of letters and digits.
    static func words(_ text: String) -> [String] {
        text.lowercased().split { !($0.isLetter || $0.isNumber) }.map(String.init)
    }

    /// The fraction of the answer's content words found in the chunk (0 with no content words).
    public static func support(answer: String, chunk: String) -> Double {
        let content = words(answer).filter { !stopWords.contains($0) }
        guard !content.isEmpty else { return 0 }
        let present = Set(words(chunk))
        return Double(content.filter(present.contains).count) / Double(content.count)
    }

    /// The supported pairs for `chunk`, counting generated, unsupported and unparsed in `stats`.
    public func pairs(for chunk: String, stats: inout StageStats) throws -> [(question: String, answer: String)] {
        let parsed = Self.parse(try generate(prompt(for: chunk)))
        if parsed.isEmpty { stats.count("qa_replies_without_pairs") }
        stats.count("qa_pairs_generated", parsed.count)
        let kept = parsed.prefix(pairsPerChunk).filter { Self.support(answer: $0.answer, chunk: chunk) >= minSupport }
        stats.count("qa_pairs_unsupported", min(parsed.count, pairsPerChunk) - kept.count)
        stats.count("qa_pairs_kept", kept.count)
        return Array(kept)
    }
}
