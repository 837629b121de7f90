import Foundation
import LoomGeneration
import LoomModels
import LoomTokenizer

/// Turns one ``TrainingExample`` into token ids and labels, with the loss only on assistant
/// turns.
///
/// A conversation is rendered with the model's own chat template (``ChatFormatter``, as
/// `loom chat` formats prompts) and tokenised once, whole, exactly as inference will see it.
/// The trained spans are found by rendering prefixes of the conversation:
///
/// - the text *before* assistant turn k is the template's rendering of messages 0..<k with
///   the generation prompt (`<|im_start|>assistant\n`, `<|start_header_id|>assistant…\n\n`);
/// - the text *through* turn k is the rendering of messages 0...k without it, which ends with
///   the turn's end-of-turn marker (`<|im_end|>\n`, `<|eot_id|>`).
///
/// Both must be text prefixes of the whole rendering (else the template renders a turn
/// differently depending on what follows, and the example is refused). Their token counts are
/// the longest common prefix of their tokenisation with the whole one, so the span is in
/// whole-conversation tokens even if BPE merged differently at a cut (chat templates put
/// special tokens at turn boundaries, so in practice the prefixes match exactly).
///
/// This gives LLaMA-Factory's supervised masks (`data/processor/supervised.py` with
/// `train_on_prompt=false`, `mask_history=false`): every assistant turn is trained, from its
/// first content token through its end-of-turn tokens (LLaMA-Factory's llama3 template
/// trains `content<|eot_id|>`, its qwen template `content<|im_end|>\n`); system, user, tool
/// turns and the assistant header are not. A function-call turn is an assistant turn.
///
/// Raw text is `text` + EOS, every token trained (LLaMA-Factory `processor/pretrain.py`,
/// which uses `<|end_of_text|>` for llama3 rather than the instruct model's `<|eot_id|>`; so
/// does this when the vocabulary has it), with BOS first when the tokenizer adds one.
public struct ConversationTokenizer: Sendable {
    /// The model's tokenizer.
    public let tokenizer: BPETokenizer
    /// The chat template conversations are rendered with.
    public let formatter: ChatFormatter
    /// The token ending a raw-text document.
    public let documentEndID: Int?

    /// Uses `template` if given, else the model's own.
    /// - Parameter date: the date templates print (`strftime_now`, Llama 3.1's "Today Date");
    ///   pass a fixed one so a run's token ids do not change from one day to the next.
    public init(model: LanguageModel, template: String? = nil, date: Date? = nil) throws {
        try self.init(tokenizer: model.tokenizer, formatter: ChatFormatter(model: model, template: template, date: date))
    }

    /// With a tokenizer and a template source (e.g. a GGUF's `tokenizer.chat_template`).
    public init(tokenizer: BPETokenizer, chatTemplate: String, date: Date? = nil) throws {
        try self.init(tokenizer: tokenizer, formatter: ChatFormatter(
            templateSource: chatTemplate,
            bosToken: tokenizer.bosID.map { tokenizer.piece($0) } ?? "",
            eosToken: tokenizer.eosID.map { tokenizer.piece($0) } ?? "",
            date: date))
    }

    /// With a tokenizer and a ready formatter (a template with its own BOS/EOS texts).
    public init(tokenizer: BPETokenizer, formatter: ChatFormatter) {
        self.tokenizer = tokenizer
        self.formatter = formatter
        documentEndID = tokenizer.id(of: "<|end_of_text|>") ?? tokenizer.eosID
    }

    /// The ids and labels of `example`, untruncated, as one unpacked sequence.
    /// - Throws: ``TrainingError/tokenization(example:reason:)`` when the template fails or
    ///   renders prefixes inconsistently, or a conversation has no assistant turn.
    public func tokenize(_ example: TrainingExample) throws -> TrainingSequence {
        try tokenizeWithTargets(example).sequence
    }

    /// ``tokenize(_:)`` plus the token ranges of the trained assistant turns, in order (for a
    /// raw text: the whole sequence), which per-turn truncation needs.
    public func tokenizeWithTargets(_ example: TrainingExample) throws -> (sequence: TrainingSequence, targets: [Range<Int>]) {
        switch example.content {
        case .text(let text):
            var ids = tokenizer.encode(text, addSpecial: true)
            if let end = documentEndID, ids.last != end { ids.append(end) }
            return (TrainingSequence(inputIDs: ids, labels: ids, sources: [example.source]), [0..<ids.count])
        case .conversation(let messages):
            return try tokenize(messages, tools: example.tools, source: example.source)
        }
    }

    private func tokenize(_ messages: [ChatMessage], tools: String?, source: String) throws -> (sequence: TrainingSequence, targets: [Range<Int>]) {
        func fail(_ reason: String) -> TrainingError { .tokenization(example: source, reason: reason) }
        let toolData = tools.map { Data($0.utf8) }
        func render(_ prefix: ArraySlice<ChatMessage>, generationPrompt: Bool) throws -> String {
            do {
                return try formatter.render(Array(prefix), tools: toolData, addGenerationPrompt: generationPrompt)
            } catch {
                throw fail("\(error)")
            }
        }
        let assistantTurns = messages.indices.filter { messages[$0].role == "assistant" }
        guard !assistantTurns.isEmpty else { throw fail("no assistant turn to train on") }
        let full = try render(messages[...], generationPrompt: false)
        let ids = encode(full)
        var labels = Array(repeating: TrainingSequence.ignoreIndex, count: ids.count)
        var targets: [Range<Int>] = []
        for turn in assistantTurns {
            let before = try render(messages[..<turn], generationPrompt: true)
            let through = try render(messages[...turn], generationPrompt: false)
            guard full.hasPrefix(before), full.hasPrefix(through), through.count >= before.count else {
                throw fail("the chat template renders the conversation before assistant turn \(turn) differently from the whole " +
                           "conversation, so the turn's tokens cannot be located")
            }
            let start = commonPrefixLength(encode(before), ids)
            let end = commonPrefixLength(encode(through), ids)
            for i in start..<max(start, end) { labels[i] = ids[i] }
            targets.append(start..<max(start, end))
        }
        return (TrainingSequence(inputIDs: ids, labels: labels, sources: [source]), targets)
    }

    /// A rendered template already contains BOS where the model wants it (`{{ bos_token }}`),
    /// so no special tokens are added: transformers' `apply_chat_template(tokenize=True)` does
    /// the same.
    private func encode(_ text: String) -> [Int] {
        tokenizer.encode(text, addSpecial: false)
    }

    private func commonPrefixLength(_ a: [Int], _ b: [Int]) -> Int {
        var n = 0
        while n < a.count, n < b.count, a[n] == b[n] { n += 1 }
        return n
    }
}
