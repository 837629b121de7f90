import Foundation
import Hummingbird

/// Server-sent events as OpenAI streams them: each event `data: <json>\n\n`, the stream
/// ending with `data: [DONE]\n\n`.
enum ServerSentEvents {
    static let headers: HTTPFields = [
        .contentType: "text/event-stream",
        .cacheControl: "no-cache",
    ]

    static func event(_ object: Any) -> ByteBuffer {
        var bytes = Array("data: ".utf8)
        bytes.append(contentsOf: JSON.encode(object))
        bytes.append(contentsOf: Array("\n\n".utf8))
        return ByteBuffer(bytes: bytes)
    }

    static let done = ByteBuffer(string: "data: [DONE]\n\n")

    /// A streaming response: `produce` writes events through the given function; when a
    /// write fails (client gone) the error propagates, ending `produce` and with it the
    /// jobs it was reading (their event stream is dropped, which cancels them).
    static func response(_ produce: @escaping @Sendable (_ send: (ByteBuffer) async throws -> Void) async throws -> Void) -> Response {
        Response(status: .ok, headers: headers, body: ResponseBody { writer in
            try await produce { buffer in try await writer.write(buffer) }
            try await writer.write(done)
            try await writer.finish(nil)
        })
    }
}
