import Foundation
import LoomGeneration
import LoomModels

/// Checks and bookkeeping shared by the generation endpoints: context limits, queue
/// admission (503 + Retry-After when full), ids and usage objects.
enum Admission {
    static let fingerprint = "loom-1"

    /// A prompt must leave room for the answer: at least one token when any are wanted, and
    /// all of an explicitly `requested` length, as OpenAI requires, unless the server shifts
    /// the context when it fills (`shifts`), where an answer may outgrow it by design.
    static func checkLength(prompt: Int, maxTokens: Int, context: Int, field: String = "messages",
                            requested: Int? = nil, shifts: Bool = false) throws {
        guard prompt > 0 else { throw APIError.invalid(field, "the prompt is empty") }
        if prompt + (maxTokens > 0 ? 1 : 0) > context {
            throw APIError(.badRequest,
                           "This model's maximum context length is \(context) tokens; the prompt has \(prompt) tokens\(maxTokens > 0 ? " and leaves no room for the answer" : "")",
                           code: "context_length_exceeded", param: field)
        }
        if let requested, !shifts, prompt + requested > context {
            throw APIError(.badRequest,
                           "This model's maximum context length is \(context) tokens. However, you requested \(prompt + requested) tokens (\(prompt) in the prompt, \(requested) for the answer); lower max_tokens to at most \(context - prompt)",
                           code: "context_length_exceeded", param: "max_tokens")
        }
    }

    /// Queues every job of `group` at once (``BatchScheduler/submit(_:)-([GenerationJob])``);
    /// a full queue cancels the group and answers 503 with Retry-After.
    static func submit(_ group: JobGroup, to scheduler: BatchScheduler) throws {
        do {
            try scheduler.submit(group.jobs)
        } catch let error as BatchScheduler.SubmitError {
            group.cancelAll()
            switch error {
            case .queueFull:
                throw APIError(.serviceUnavailable, "The server is busy (\(scheduler.queueLimit) requests waiting); retry later",
                               type: "server_error", code: "queue_full", retryAfter: 1)
            case .stopped:
                throw APIError(.serviceUnavailable, "The server is shutting down", type: "server_error", code: "shutting_down", retryAfter: 5)
            }
        }
    }

    /// A generation error as an API error (bad parameters are the client's fault).
    static func generationFailure(_ error: Error) -> APIError {
        switch error {
        case let e as SamplingError: return APIError(.badRequest, "\(e)", code: "invalid_value")
        case let e as GenerationError: return APIError(.badRequest, "\(e)", code: "invalid_value")
        case let e as ModelError: return APIError(.badRequest, "\(e)", code: "invalid_value")
        default: return APIError(.internalServerError, "\(error)", type: "server_error", code: "internal_error")
        }
    }

    static func usage(prompt: Int, completion: Int, cached: Int = 0) -> [String: Any] {
        ["prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
         "prompt_tokens_details": ["cached_tokens": cached]]
    }

    static func randomID() -> String {
        var g = SystemRandomNumberGenerator()
        return (0..<3).map { _ in String(g.next() as UInt64, radix: 16) }.joined()
    }
}
