import Foundation
import Hummingbird

/// An error answered as OpenAI does: an HTTP status and
/// `{"error": {"message": …, "type": …, "param": …, "code": …}}`.
public struct APIError: Error, CustomStringConvertible, Sendable {
    public let status: HTTPResponse.Status
    public let message: String
    /// OpenAI's error type: `invalid_request_error`, `authentication_error`, `server_error`, …
    public let type: String
    /// A short machine-readable code (`invalid_value`, `model_not_found`, …).
    public let code: String
    /// The request field at fault, if any.
    public let param: String?
    /// Seconds a client should wait before retrying (503 answers).
    public var retryAfter: Int?
    /// The answer ends the connection (`Connection: close`): after a framing error, a
    /// timeout or a refused body the rest of the byte stream cannot be trusted or read.
    public var closesConnection: Bool

    public init(_ status: HTTPResponse.Status, _ message: String, type: String = "invalid_request_error",
                code: String = "invalid_value", param: String? = nil, retryAfter: Int? = nil,
                closesConnection: Bool = false) {
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.retryAfter = retryAfter
        self.closesConnection = closesConnection
    }

    public var description: String { "\(status.code) \(code): \(message)" }

    /// A 400 naming the field at fault.
    static func invalid(_ field: String, _ message: String) -> APIError {
        APIError(.badRequest, "'\(field)': \(message)", param: field)
    }

    /// A 413 for a request body over the server's limit (`size` when declared up front).
    /// The unread rest of the body makes the connection unusable, so the answer closes it.
    static func bodyTooLarge(_ size: Int?, limit: Int) -> APIError {
        let what = size.map { "The request body is \($0) bytes" } ?? "The request body is larger than \(limit) bytes"
        return APIError(.contentTooLarge, "\(what); the server accepts at most \(limit) bytes",
                        code: "request_too_large", closesConnection: true)
    }

    var body: [String: Any] {
        ["error": ["message": message, "type": type, "param": param.map { $0 as Any } ?? NSNull(), "code": code]]
    }

    /// Content type, Retry-After, WWW-Authenticate and Connection fields of the answer.
    var headerFields: HTTPFields {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let retryAfter { headers[.retryAfter] = "\(retryAfter)" }
        // RFC 9110 §11.6.1: a 401 names the scheme the client must use (RFC 6750's Bearer).
        if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer" }
        if closesConnection { headers[.connection] = "close" }
        return headers
    }

    func response() -> Response {
        Response(status: status, headers: headerFields, body: .init(byteBuffer: ByteBuffer(bytes: JSON.encode(body))))
    }
}

/// JSON encoding of `[String: Any]` trees (responses keep OpenAI's explicit `null`s).
enum JSON {
    static func encode(_ value: Any) -> Data {
        (try? JSONSerialization.data(withJSONObject: value, options: [.withoutEscapingSlashes])) ?? Data("{}".utf8)
    }

    static func response(_ value: Any, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"],
                 body: .init(byteBuffer: ByteBuffer(bytes: encode(value))))
    }

    /// A float for JSON: finite values as Double, `-inf` as the lowest finite float
    /// (llama.cpp's convention; JSON has no infinities).
    static func number(_ value: Float) -> Double {
        if value.isNaN { return -Double(Float.greatestFiniteMagnitude) }
        if value == -.infinity { return -Double(Float.greatestFiniteMagnitude) }
        if value == .infinity { return Double(Float.greatestFiniteMagnitude) }
        return Double(value)
    }
}
