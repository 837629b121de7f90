import Foundation
import Hummingbird
import Logging

/// Requires `Authorization: Bearer <key>` on every route except the public ones (`/health`);
/// a missing or wrong key is a 401 in OpenAI's error shape.
struct APIKeyMiddleware<Context: RequestContext>: RouterMiddleware {
    let key: String
    let publicPaths: Set<String> = ["/health"]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if publicPaths.contains(request.uri.path) { return try await next(request, context) }
        guard let header = request.headers[.authorization] else {
            throw APIError(.unauthorized, "Missing API key: send 'Authorization: Bearer <key>'",
                           type: "authentication_error", code: "invalid_api_key")
        }
        let prefix = "Bearer "
        guard header.hasPrefix(prefix), constantTimeEqual(String(header.dropFirst(prefix.count)), key) else {
            throw APIError(.unauthorized, "Incorrect API key provided", type: "authentication_error", code: "invalid_api_key")
        }
        return try await next(request, context)
    }

    /// Compares without an early exit, so timing does not reveal how much of a guess matched.
    private func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var diff = UInt8(x.count == y.count ? 0 : 1)
        for i in 0..<max(x.count, y.count) {
            diff |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0)
        }
        return diff == 0
    }
}

/// Inside ``AccessLogMiddleware``: turns ``APIError``s (and Hummingbird's own HTTP errors, such as
/// 404 for an unknown route or 413 for a huge body) into OpenAI-style JSON error bodies,
/// and counts every answer by status for `/metrics`.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: ServerMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let response: Response
        do {
            response = try await next(request, context)
        } catch let error as APIError {
            response = error.response()
        } catch let error where ConnectionGuard.apiError(for: error) != nil {
            // A broken body (bad chunk framing) or one that stopped arriving, seen while reading it.
            response = ConnectionGuard.apiError(for: error)!.response()
        } catch let error as HTTPResponseError {
            let status = error.status
            let type = status.code == 404 ? "not_found_error" : (status.code >= 500 ? "server_error" : "invalid_request_error")
            let message = status.code == 404 ? "No route \(request.method) \(request.uri.path)" : "\(status.reasonPhrase): \(error)"
            response = APIError(status, message, type: type, code: "\(status.code)").response()
        } catch {
            response = APIError(.internalServerError, "\(error)", type: "server_error", code: "internal_error").response()
        }
        metrics.recordRequest(status: response.status.code)
        return response
    }
}

/// Refuses a request whose declared Content-Length is over the server's limit with a 413
/// before any of its body is read (and before authentication, which would otherwise read
/// and drop it all). Bodies without a length are limited while read (``Routes/collect(_:limit:)``).
struct BodyLimitMiddleware<Context: RequestContext>: RouterMiddleware {
    let limit: Int

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let declared = request.headers[.contentLength].flatMap({ Int($0) }), declared > limit {
            throw APIError.bodyTooLarge(declared, limit: limit)
        }
        // A compressed body would otherwise fail as "invalid JSON"; say what is wrong (RFC 9110 §15.5.16).
        if let encoding = request.headers[.contentEncoding], encoding.lowercased() != "identity" {
            throw APIError(.unsupportedMediaType, "Content-Encoding '\(encoding)' is not supported; send the body uncompressed",
                           code: "unsupported_content_encoding")
        }
        return try await next(request, context)
    }
}

/// Outermost middleware: one access-log line per request through the request's `Logger`
/// (method, path, status, and milliseconds until the body was fully written, so a streamed
/// answer counts its whole generation), at `info` level.
///
/// Hummingbird's `LogRequestsMiddleware` logs when a request arrives, before its status is
/// known, so it cannot give the status or the duration.
struct AccessLogMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let logger = context.logger
        let method = request.method.rawValue, path = request.uri.path
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            // ErrorMiddleware (inside this one) answers every error; this only logs what escapes it.
            let status = (error as? HTTPResponseError)?.status.code ?? 500
            Self.log(logger, method, path, status, since: start)
            throw error
        }
        let status = response.status.code
        let body = response.body
        response.body = ResponseBody(contentLength: body.contentLength) { writer in
            do {
                try await body.write(writer)
            } catch {
                Self.log(logger, method, path, status, since: start, note: " (body not completed: \(error))")
                throw error
            }
            Self.log(logger, method, path, status, since: start)
        }
        return response
    }

    private static func log(_ logger: Logger, _ method: String, _ path: String, _ status: Int,
                            since start: ContinuousClock.Instant, note: String = "") {
        let elapsed = ContinuousClock.now - start
        let ms = Double(elapsed.components.seconds) * 1e3 + Double(elapsed.components.attoseconds) * 1e-15
        let rounded = (ms * 10).rounded() / 10
        logger.info("\(method) \(path) \(status) \(rounded) ms\(note)")
    }
}
