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

    public init(_ status: HTTPResponse.Status, _ message: String, type: String = "invalid_request_error",
                code: String = "invalid_value", param: String? = nil, retryAfter: Int? = nil) {
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.retryAfter = retryAfter
    }

    public var description: String { "\(status.code) \(code): \(message)" }

    /// A 400 naming the field at fault.
    static func invalid(_ field: String, _ message: String) -> APIError {
        APIError(.badRequest, "'\(field)': \(message)", param: field)
    }

    var body: [String: Any] {
        ["error": ["message": message, "type": type, "param": param.map { $0 as Any } ?? NSNull(), "code": code]]
    }

    func response() -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let retryAfter { headers[.retryAfter] = "\(retryAfter)" }
        // RFC 9110 §11.6.1: a 401 names the scheme the client must use (RFC 6750's Bearer).
        if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer" }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: JSON.encode(body))))
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
