import Hummingbird

/// Cross-origin access for browser clients (`loom serve --cors-origins`): a request whose
/// `Origin` is allowed gets `Access-Control-Allow-Origin` (and `Vary: Origin`); an `OPTIONS`
/// preflight from it is answered here with 204 and the allowed methods and headers, before
/// the API key is asked for (browsers send no credentials in a preflight). Origins not
/// allowed get no CORS headers, so the browser refuses the response. Fetch standard, "CORS
/// protocol" (https://fetch.spec.whatwg.org/#http-cors-protocol).
struct CORSOriginsMiddleware<Context: RequestContext>: RouterMiddleware {
    /// The allowed origins; `*` allows every one.
    let origins: Set<String>

    init(origins: [String]) {
        self.origins = Set(origins)
    }

    /// The `Access-Control-Allow-Origin` value for `origin`, or nil when it is not allowed.
    func allowed(_ origin: String) -> String? {
        if origins.contains("*") { return "*" }
        return origins.contains(origin) ? origin : nil
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let origin = request.headers[.origin], let allow = allowed(origin) else { return try await next(request, context) }
        if request.method == .options {
            var headers: HTTPFields = [.accessControlAllowOrigin: allow, .vary: "Origin",
                                       .accessControlAllowMethods: "GET, POST, HEAD, OPTIONS",
                                       .accessControlMaxAge: "600"]
            headers[.accessControlAllowHeaders] = request.headers[.accessControlRequestHeaders] ?? "Authorization, Content-Type"
            return Response(status: .noContent, headers: headers)
        }
        var response = try await next(request, context)
        response.headers[.accessControlAllowOrigin] = allow
        response.headers[.vary] = "Origin"
        return response
    }
}
