import Foundation
import LoomTokenizer

/// The vocabulary's token byte strings as a byte trie, so that a grammar can rule out every
/// token sharing a rejected prefix at once (the idea of llama.cpp's
/// `llama_grammar_reject_candidates`, which groups candidates by their next character).
///
/// Only tokens that decode to text are in it: control, unknown and unused tokens (and empty
/// ones) can never match a grammar. End-of-generation tokens are handled by the caller.
struct TokenTrie: Sendable {
    /// Children of node `i`: `childBytes[childStart[i]..<childStart[i+1]]` and `childNodes`.
    private var childStart: [Int32] = [0]
    private var childBytes: [UInt8] = []
    private var childNodes: [Int32] = []
    /// Tokens ending at node `i`: `tokens[tokenStart[i]..<tokenStart[i+1]]`.
    private var tokenStart: [Int32] = [0]
    private var tokens: [Int32] = []
    /// The vocabulary size the trie was built for.
    let vocabularySize: Int

    init(tokenizer: BPETokenizer) {
        vocabularySize = tokenizer.vocabularySize
        // Build with per-node dictionaries, then flatten breadth-first.
        var children: [[UInt8: Int32]] = [[:]]
        var ends: [[Int32]] = [[]]
        for id in 0..<tokenizer.vocabularySize where Self.isText(tokenizer, id) {
            let bytes = tokenizer.tokenBytes(id)
            guard !bytes.isEmpty else { continue }
            var node = 0
            for byte in bytes {
                if let next = children[node][byte] {
                    node = Int(next)
                } else {
                    children.append([:])
                    ends.append([])
                    children[node][byte] = Int32(children.count - 1)
                    node = children.count - 1
                }
            }
            ends[node].append(Int32(id))
        }
        // Node ids are kept (creation order); only the child lists are sorted and packed.
        for node in 0..<children.count {
            for (byte, child) in children[node].sorted(by: { $0.key < $1.key }) {
                childBytes.append(byte)
                childNodes.append(child)
            }
            childStart.append(Int32(childBytes.count))
            tokens += ends[node]
            tokenStart.append(Int32(tokens.count))
        }
    }

    /// Whether a token can ever be part of grammar-constrained text.
    static func isText(_ tokenizer: BPETokenizer, _ id: Int) -> Bool {
        switch tokenizer.tokenType(id) {
        case .normal, .byte, .userDefined, .undefined: return true
        default: return false
        }
    }

    /// Marks in `allowed` every token the matcher's state accepts (as a prefix of a sentence).
    func markAllowed(by matcher: GrammarMatcher, in allowed: inout [Bool]) {
        walk(node: 0, matcher.stacks, matcher.partial, matcher, &allowed)
    }

    private func walk(node: Int, _ stacks: [GrammarMatcher.Stack], _ partial: GrammarMatcher.PartialCharacter,
                      _ matcher: GrammarMatcher, _ allowed: inout [Bool]) {
        for c in Int(childStart[node])..<Int(childStart[node + 1]) {
            guard let next = matcher.step(stacks, partial, childBytes[c]) else { continue }
            let child = Int(childNodes[c])
            let (first, last) = (Int(tokenStart[child]), Int(tokenStart[child + 1]))
            if first < last {
                for t in first..<last { allowed[Int(tokens[t])] = true }
            }
            walk(node: child, next.stacks, next.partial, matcher, &allowed)
        }
    }

    // MARK: - Shared tries

    private static let lock = NSLock()
    nonisolated(unsafe) private static var cache: [(tokenizer: BPETokenizer, trie: TokenTrie)] = []

    /// The trie of `tokenizer`'s vocabulary, built once per tokenizer and kept (a few
    /// tokenizers per process at most; the oldest is dropped beyond four).
    static func shared(for tokenizer: BPETokenizer) -> TokenTrie {
        lock.lock()
        defer { lock.unlock() }
        if let hit = cache.first(where: { $0.tokenizer === tokenizer }) { return hit.trie }
        let trie = TokenTrie(tokenizer: tokenizer)
        if cache.count >= 4 { cache.removeFirst() }
        cache.append((tokenizer, trie))
        return trie
    }
}
