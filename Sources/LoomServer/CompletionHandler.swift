import Foundation
import Hummingbird
import LoomGeneration

/// `POST /v1/completions` (OpenAI's legacy API): plain continuation of one or more prompts
/// (strings or token ids). With `echo` the prompt is repeated in the answer, and with
/// `logprobs` too every prompt token after the first gets its log-probability under the
/// model — how lm-evaluation-harness scores multiple-choice answers.
struct CompletionHandler {
    let served: ServedModel

    /// One prompt of the request: its tokens and the text echoed for it.
    struct Prompt {
        let tokens: [Int]
        let text: String
    }

    /// Answers one request; `connection` is watched so a client that leaves before a
    /// non-streamed answer is complete frees its slots at once.
    func handle(body: Data, connection: ClientConnection) async throws -> Response {
        let decoded = try APIRequestDecoder.completion(body, vocabularySize: served.model.config.vocabularySize,
                                                       generationDefaults: served.model.generationDefaults)
        let prompts = decoded.prompts.map { input -> Prompt in
            switch input {
            case .text(let s): return Prompt(tokens: served.tokenizer.encode(s, addSpecial: true), text: s)
            case .tokens(let ids): return Prompt(tokens: ids, text: served.tokenizer.decode(ids))
            }
        }
        let request = decoded.generation
        let echo = decoded.echo
        for p in prompts {
            try Admission.checkLength(prompt: p.tokens.count, maxTokens: request.options.maxTokens,
                                      context: served.contextLength, field: "prompt",
                                      requested: request.requestedMaxTokens, shifts: served.scheduler.contextShift != nil)
        }
        let wantPromptLogprobs = echo && request.logprobs != nil
        var specs: [(prompt: [Int], options: GenerationOptions, promptLogprobs: Bool)] = []
        for p in prompts {
            for i in 0..<request.n { specs.append((p.tokens, request.options(forChoice: i), wantPromptLogprobs)) }
        }
        let group = JobGroup(specs, adapterScales: try served.adapterScales(model: decoded.model, request: request),
                             cachePrompt: request.cachePrompt)
        try Admission.submit(group, to: served.scheduler)

        let head: [String: Any] = ["id": "cmpl-" + Admission.randomID(), "created": Int(Date().timeIntervalSince1970),
                                   "model": served.id, "system_fingerprint": Admission.fingerprint]
        let promptTokens = prompts.reduce(0) { $0 + $1.tokens.count }
        let context = Context(request: request, echo: echo, prompts: prompts, head: head, promptTokens: promptTokens)
        if request.stream {
            return ServerSentEvents.response { send in
                // A failed write means the client is gone: free its slots now.
                do { try await stream(group, context, send: send) } catch { group.cancelAll(); throw error }
            }
        }
        return try await connection.whileWatching(onDisconnect: group.cancelAll) {
            try await collect(group, context)
        }
    }

    struct Context {
        let request: GenerationRequest
        let echo: Bool
        let prompts: [Prompt]
        let head: [String: Any]
        let promptTokens: Int
        func prompt(ofJob index: Int) -> Prompt { prompts[index / request.n] }
    }

    private func collect(_ group: JobGroup, _ c: Context) async throws -> Response {
        let count = group.jobs.count
        var texts = (0..<count).map { c.echo ? c.prompt(ofJob: $0).text : "" }
        var logprobs = (0..<count).map {
            LogprobFormat.Legacy(count: c.request.logprobs ?? 0, startOffset: c.echo ? 0 : c.prompt(ofJob: $0).text.count)
        }
        var finish = Array(repeating: "stop", count: count)
        var completionTokens = 0
        for await (index, event) in group.events {
            switch event {
            case .promptLogprobs(let entries):
                let tokens = c.prompt(ofJob: index).tokens
                logprobs[index].append(served, id: tokens[0], logprob: nil, top: [])
                for (k, entry) in entries.enumerated() {
                    logprobs[index].append(served, id: tokens[k + 1], logprob: entry.0, top: entry.1)
                }
            case .token(let token):
                texts[index] += token.text
                if c.request.logprobs != nil, !token.isEndOfGeneration {
                    logprobs[index].append(served, id: token.id, logprob: token.logprob, top: token.topLogprobs)
                }
            case .finished(let reason, let n):
                finish[index] = reason == .length ? "length" : "stop"
                completionTokens += n
            case .failed(let error):
                group.cancelAll()
                throw Admission.generationFailure(error)
            }
        }
        var object = c.head
        object["object"] = "text_completion"
        object["choices"] = (0..<count).map { i -> [String: Any] in
            ["index": i, "text": texts[i],
             "logprobs": c.request.logprobs == nil ? NSNull() : logprobs[i].object as Any,
             "finish_reason": finish[i]]
        }
        object["usage"] = Admission.usage(prompt: c.promptTokens, completion: completionTokens,
                                               cached: group.cachedPromptTokens(choicesPerPrompt: c.request.n))
        object["timings"] = group.timings.json
        return JSON.response(object)
    }

    private func stream(_ group: JobGroup, _ c: Context, send: (ByteBuffer) async throws -> Void) async throws {
        func chunk(_ index: Int, text: String, logprobs: Any, finish: Any, timings: JobTimings? = nil) -> ByteBuffer {
            var object = c.head
            object["object"] = "text_completion"
            object["choices"] = [["index": index, "text": text, "logprobs": logprobs, "finish_reason": finish]]
            if c.request.includeUsage { object["usage"] = NSNull() }
            if let timings { object["timings"] = timings.json }
            return ServerSentEvents.event(object)
        }
        if c.echo && c.request.logprobs == nil {
            for i in group.jobs.indices {
                try await send(chunk(i, text: c.prompt(ofJob: i).text, logprobs: NSNull(), finish: NSNull()))
            }
        }
        var completionTokens = 0
        for await (index, event) in group.events {
            switch event {
            case .promptLogprobs(let entries):
                let tokens = c.prompt(ofJob: index).tokens
                var legacy = LogprobFormat.Legacy(count: c.request.logprobs ?? 0)
                legacy.append(served, id: tokens[0], logprob: nil, top: [])
                for (k, entry) in entries.enumerated() {
                    legacy.append(served, id: tokens[k + 1], logprob: entry.0, top: entry.1)
                }
                try await send(chunk(index, text: c.prompt(ofJob: index).text, logprobs: legacy.object, finish: NSNull()))
            case .token(let token):
                var logprobs: Any = NSNull()
                if c.request.logprobs != nil {
                    if token.isEndOfGeneration { continue }
                    var legacy = LogprobFormat.Legacy(count: c.request.logprobs ?? 0)
                    legacy.append(served, id: token.id, logprob: token.logprob, top: token.topLogprobs)
                    logprobs = legacy.object
                } else if token.text.isEmpty {
                    continue
                }
                try await send(chunk(index, text: token.text, logprobs: logprobs, finish: NSNull()))
            case .finished(let reason, let n):
                completionTokens += n
                if reason == .cancelled { continue }
                try await send(chunk(index, text: "", logprobs: NSNull(), finish: reason == .length ? "length" : "stop",
                                     timings: group.jobs[index].timings))
            case .failed(let error):
                try await send(ServerSentEvents.event(Admission.generationFailure(error).body))
                group.cancelAll()
                return
            }
        }
        if c.request.includeUsage {
            var object = c.head
            object["object"] = "text_completion"
            object["choices"] = [Any]()
            object["usage"] = Admission.usage(prompt: c.promptTokens, completion: completionTokens,
                                               cached: group.cachedPromptTokens(choicesPerPrompt: c.request.n))
            try await send(ServerSentEvents.event(object))
        }
    }
}
