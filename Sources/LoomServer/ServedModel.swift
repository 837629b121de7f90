import Foundation
import LoomGeneration
import LoomModels
import LoomTokenizer

/// A loaded model ready to serve: the model, its chat formatter, the batching scheduler and
/// the names clients may use for it.
public final class ServedModel: @unchecked Sendable {
    public let model: LanguageModel
    public let formatter: ChatFormatter?
    public let scheduler: BatchScheduler
    /// The id reported by `/v1/models` (the first alias, or the file name).
    public let id: String
    /// `--alias` names (llama.cpp's comma-separated list), listed in the model's entry.
    public let aliases: [String]
    public let created = Int(Date().timeIntervalSince1970)
    /// Selectable adapters: model name → LoRA id (``ServedLoRA/name``).
    public let adapterNames: [String: Int]
    /// How the model writes tool calls: the configured family, else the one its chat
    /// template shows.
    public let toolCallFormat: ToolCallFormat

    /// - Parameter template: a chat template replacing the model's own (`--chat-template-file`).
    public init(model: LanguageModel, scheduler: BatchScheduler, aliases: [String] = [], adapterNames: [String: Int] = [:],
                toolCallFormat: ToolCallFormat? = nil, template: String? = nil) throws {
        self.adapterNames = adapterNames
        self.model = model
        self.scheduler = scheduler
        // A template given on the command line must work; the model's own, if broken, only
        // disables chat (completions still serve).
        let formatter = try template.map { try ChatFormatter(model: model, template: $0) }
            ?? (model.chatTemplate != nil ? try? ChatFormatter(model: model) : nil)
        self.formatter = formatter
        self.toolCallFormat = toolCallFormat ?? formatter.map { ToolCallFormat.detect(chatTemplate: $0.templateSource) } ?? .generic
        self.aliases = aliases
        id = aliases.first ?? (model.path as NSString).lastPathComponent
    }

    public var contextLength: Int { scheduler.contextLength }
    var tokenizer: BPETokenizer { model.tokenizer }

    /// The LoRA scales a request runs with, or nil for the adapters' own: a `model` naming an
    /// adapter turns it on (scale 1) and every other adapter off; the request's `"lora"`
    /// list then sets scales by id (llama.cpp). Ids must be attached adapters (else 400).
    func adapterScales(model name: String?, request: GenerationRequest) throws -> [Int: Float]? {
        var scales: [Int: Float]?
        // Through the scheduler's lock: its thread rewrites `model.loraAdapters` when a
        // `POST /lora-adapters` takes effect (a data race ThreadSanitizer found otherwise).
        let attached = (name != nil || request.loraScales != nil) ? scheduler.loraAdapters : []
        if let name, let selected = adapterNames[name] {
            scales = Dictionary(uniqueKeysWithValues: attached.map { ($0.id, $0.id == selected ? 1 : 0) })
        }
        if let requested = request.loraScales {
            let known = Set(attached.map(\.id))
            for (id, scale) in requested {
                guard known.contains(id) else {
                    throw APIError.invalid("lora", "no adapter with id \(id) (loaded: \(known.isEmpty ? "none" : known.sorted().map(String.init).joined(separator: ", ")))")
                }
                if scales == nil { scales = [:] }
                scales![id] = scale
            }
        }
        return scales
    }

    /// The text of one token as OpenAI reports it (its bytes, decoded leniently).
    func tokenText(_ id: Int) -> String { String(decoding: tokenizer.tokenBytes(id), as: UTF8.self) }
}

/// The server's model slot: loading, ready, or failed (health reports which).
final class ModelHost: @unchecked Sendable {
    enum State {
        case loading
        case ready(ServedModel)
        case failed(String)
    }

    private let lock = NSLock()
    private var state: State = .loading

    var current: State { lock.withLock { state } }
    func set(_ new: State) { lock.withLock { state = new } }

    /// The served model, or a 503 while loading / 500 if loading failed.
    func ready() throws -> ServedModel {
        switch current {
        case .ready(let model): return model
        case .loading: throw APIError(.serviceUnavailable, "Loading model", type: "unavailable_error", code: "model_loading", retryAfter: 1)
        case .failed(let message): throw APIError(.internalServerError, "the model failed to load: \(message)", type: "server_error", code: "model_load_failed")
        }
    }
}
