import Foundation
import Hummingbird
import LoomGeneration

/// `POST /v1/chat/completions`: the model's chat template applied to `messages`, answered
/// whole or streamed as `chat.completion.chunk` events.
///
/// With `tools` the template is given them and the reply is parsed for calls in the model
/// family's syntax (``ToolCallParser``): calls come back as `message.tool_calls` with
/// `finish_reason: "tool_calls"`, or streamed as `delta.tool_calls` once each is complete
/// (plain text is streamed as it comes; only what may be a call is held back).
/// `tool_choice: "required"` or a named function is enforced by a grammar.
struct ChatCompletionHandler {
    let served: ServedModel

    /// Answers one request; `connection` is watched so a client that leaves before a
    /// non-streamed answer is complete frees its slots at once.
    func handle(body: Data, connection: ClientConnection) async throws -> Response {
        let decoded = try APIRequestDecoder.chatCompletion(body, vocabularySize: served.model.config.vocabularySize,
                                                           generationDefaults: served.model.generationDefaults)
        let messages = decoded.messages
        guard let formatter = served.formatter else {
            throw APIError(.badRequest, "the model has no chat template; use /v1/completions", code: "no_chat_template")
        }
        let text: String
        do {
            let tools = decoded.usesTools ? ToolDefinition.templateJSON(decoded.tools) : nil
            text = try formatter.render(messages, tools: tools, addGenerationPrompt: true)
        } catch {
            throw APIError.invalid("messages", "the chat template failed: \(error)")
        }
        let prompt = served.tokenizer.encode(text, addSpecial: false)
        let context = served.contextLength
        var generation = decoded.generation
        let format = served.toolCallFormat
        if decoded.requiresCall {
            var only: String?
            if case let .function(name) = decoded.toolChoice { only = name }
            do {
                generation.options.grammar = try ToolCallGrammar.grammar(format: format, tools: decoded.tools, only: only,
                                                                         parallel: decoded.parallelToolCalls)
            } catch let error as ToolCallError {
                throw APIError.invalid(error.field, error.message)
            }
        }
        let parser = decoded.usesTools
            ? ToolCallParser(format: format, tools: decoded.tools, maximumCalls: decoded.parallelToolCalls ? .max : 1) : nil
        // Without a length the answer may fill the rest of the context.
        if generation.requestedMaxTokens == nil {
            generation.options.maxTokens = min(max(0, context - prompt.count), served.model.generationDefaults?.maxNewTokens ?? .max)
        }
        let request = generation
        try Admission.checkLength(prompt: prompt.count, maxTokens: request.options.maxTokens, context: context,
                                  requested: request.requestedMaxTokens, shifts: served.scheduler.contextShift != nil)
        let adapters = try served.adapterScales(model: decoded.model, request: request)
        let group = JobGroup((0..<request.n).map { (prompt, request.options(forChoice: $0), false) }, adapterScales: adapters,
                             cachePrompt: request.cachePrompt)
        try Admission.submit(group, to: served.scheduler)

        let id = "chatcmpl-" + Admission.randomID()
        let created = Int(Date().timeIntervalSince1970)
        let head: [String: Any] = ["id": id, "created": created, "model": served.id, "system_fingerprint": Admission.fingerprint]
        if request.stream {
            return ServerSentEvents.response { send in
                // A failed write means the client is gone: free its slots now.
                do { try await stream(group, request: request, parser: parser, head: head, promptTokens: prompt.count, send: send) }
                catch { group.cancelAll(); throw error }
            }
        }
        return try await connection.whileWatching(onDisconnect: group.cancelAll) {
            try await collect(group, request: request, parser: parser, head: head, promptTokens: prompt.count)
        }
    }

    private func logprobEntries(_ token: JobToken, _ request: GenerationRequest) -> [[String: Any]] {
        guard let count = request.logprobs, let lp = token.logprob, !token.isEndOfGeneration else { return [] }
        return [LogprobFormat.chatEntry(served, lp, token.topLogprobs, count: count)]
    }

    /// OpenAI's shape of a call in a message (`index` for a streamed delta).
    static func toolCallObject(_ call: ChatMessage.ToolCall, index: Int?) -> [String: Any] {
        var object: [String: Any] = ["id": call.id ?? "", "type": "function",
                                     "function": ["name": call.name, "arguments": call.arguments]]
        if let index { object["index"] = index }
        return object
    }

    /// `tool_calls` when the reply made calls (unless it was cut off by the length limit).
    static func finishReason(_ reason: FinishReason, madeCalls: Bool) -> String {
        reason == .length ? "length" : madeCalls ? "tool_calls" : "stop"
    }

    private func collect(_ group: JobGroup, request: GenerationRequest, parser: ToolCallParser?, head: [String: Any],
                         promptTokens: Int) async throws -> Response {
        var texts = Array(repeating: "", count: request.n)
        var logprobs = Array(repeating: [[String: Any]](), count: request.n)
        var reasons = Array(repeating: FinishReason.stop, count: request.n)
        var completionTokens = 0
        for await (index, event) in group.events {
            switch event {
            case .token(let token):
                texts[index] += token.text
                logprobs[index] += logprobEntries(token, request)
            case .finished(let reason, let count):
                reasons[index] = reason
                completionTokens += count
            case .failed(let error):
                group.cancelAll()
                throw Admission.generationFailure(error)
            case .promptLogprobs:
                break
            }
        }
        var object = head
        object["object"] = "chat.completion"
        object["choices"] = (0..<request.n).map { i -> [String: Any] in
            var message: [String: Any] = ["role": "assistant", "content": texts[i]]
            let calls = parser?.parse(texts[i]) ?? ToolCallParseResult(content: texts[i], toolCalls: [])
            if !calls.toolCalls.isEmpty {
                message["content"] = calls.content.isEmpty ? NSNull() : calls.content
                message["tool_calls"] = calls.toolCalls.map { Self.toolCallObject($0, index: nil) }
            }
            return ["index": i, "message": message,
                    "logprobs": request.logprobs == nil ? NSNull() : ["content": logprobs[i]] as Any,
                    "finish_reason": Self.finishReason(reasons[i], madeCalls: !calls.toolCalls.isEmpty)]
        }
        object["usage"] = Admission.usage(prompt: promptTokens, completion: completionTokens,
                                               cached: group.cachedPromptTokens(choicesPerPrompt: request.n))
        object["timings"] = group.timings.json
        return JSON.response(object)
    }

    private func stream(_ group: JobGroup, request: GenerationRequest, parser: ToolCallParser?, head: [String: Any],
                        promptTokens: Int, send: (ByteBuffer) async throws -> Void) async throws {
        func chunk(_ choices: [[String: Any]]) -> [String: Any] {
            var object = head
            object["object"] = "chat.completion.chunk"
            object["choices"] = choices
            if request.includeUsage { object["usage"] = NSNull() }
            return object
        }
        for i in 0..<request.n {
            try await send(ServerSentEvents.event(chunk([["index": i, "delta": ["role": "assistant", "content": ""], "logprobs": NSNull(), "finish_reason": NSNull()]])))
        }
        var completionTokens = 0
        // Per choice: plain text streams at once, a possible call is held until complete.
        var toolStreams = parser.map { p in Array(repeating: ToolCallStream(parser: p), count: request.n) }
        for await (index, event) in group.events {
            switch event {
            case .token(let token):
                let entries = logprobEntries(token, request)
                let content = toolStreams != nil ? toolStreams![index].append(token.text) : token.text
                if content.isEmpty && entries.isEmpty { continue }
                try await send(ServerSentEvents.event(chunk([[
                    "index": index, "delta": ["content": content],
                    "logprobs": request.logprobs == nil ? NSNull() : ["content": entries] as Any,
                    "finish_reason": NSNull()]])))
            case .finished(let reason, let count):
                completionTokens += count
                if reason == .cancelled { continue }
                var madeCalls = false
                if toolStreams != nil {
                    let end = toolStreams![index].finish()
                    if !end.content.isEmpty {
                        try await send(ServerSentEvents.event(chunk([[
                            "index": index, "delta": ["content": end.content], "logprobs": NSNull(), "finish_reason": NSNull()]])))
                    }
                    if !end.toolCalls.isEmpty {
                        madeCalls = true
                        let deltas = end.toolCalls.enumerated().map { Self.toolCallObject($1, index: $0) }
                        try await send(ServerSentEvents.event(chunk([[
                            "index": index, "delta": ["tool_calls": deltas], "logprobs": NSNull(), "finish_reason": NSNull()]])))
                    }
                }
                var last = chunk([[
                    "index": index, "delta": [String: Any](), "logprobs": NSNull(),
                    "finish_reason": Self.finishReason(reason, madeCalls: madeCalls)]])
                last["timings"] = group.jobs[index].timings.json
                try await send(ServerSentEvents.event(last))
            case .failed(let error):
                // Headers are sent: report in-band as llama.cpp does, then end the stream.
                try await send(ServerSentEvents.event(Admission.generationFailure(error).body))
                group.cancelAll()
                return
            case .promptLogprobs:
                break
            }
        }
        if request.includeUsage {
            var object = head
            object["object"] = "chat.completion.chunk"
            object["choices"] = [Any]()
            object["usage"] = Admission.usage(prompt: promptTokens, completion: completionTokens,
                                               cached: group.cachedPromptTokens(choicesPerPrompt: request.n))
            try await send(ServerSentEvents.event(object))
        }
    }
}
