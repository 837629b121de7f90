import Foundation
import XCTest
@testable import LoomServer

/// What running real clients against the server found (issue 26 item 6): routes the official
/// `openai` package and uptime probes use, and OpenAI's own limits, enforced by name.
final class ClientCompatibilityTests: XCTestCase {
    var server: TestServer!
    var client: RawHTTPClient { server.client }
    let auth = TestServer.auth

    override func setUpWithError() throws {
        server = try TestServer.shared.get()
    }

    /// `HEAD /health` and `HEAD /v1/models` answer as GET does, without a body.
    func testHeadRequests() throws {
        let health = try client.request("HEAD", "/health")
        XCTAssertEqual(health.status, 200)
        XCTAssertTrue(health.body.isEmpty, health.text)
        let models = try client.request("HEAD", "/v1/models", headers: auth)
        XCTAssertEqual(models.status, 200)
        XCTAssertTrue(models.body.isEmpty, models.text)
        XCTAssertEqual(try client.request("HEAD", "/v1/models").status, 401, "HEAD needs the key as GET does")
    }

    /// The SDK's `models.retrieve(id)`: the listed id, or any other name, gives the model's
    /// entry (any name a request carries serves the model, as in llama-server).
    func testRetrieveModel() throws {
        let list = try client.get("/v1/models", headers: auth).json()
        let id = try XCTUnwrap(((list["data"] as? [[String: Any]])?.first)?["id"] as? String)
        for name in [id, try XCTUnwrap(server.server.servedModel).model.path.split(separator: "/").last.map(String.init)!, "gpt-9"] {
            let reply = try client.get("/v1/models/\(name)", headers: auth)
            XCTAssertEqual(reply.status, 200, reply.text)
            let object = try reply.json()
            XCTAssertEqual(object["id"] as? String, id)
            XCTAssertEqual(object["object"] as? String, "model")
        }
    }

    /// `--cors-origins`: a browser's preflight is answered before the API key is asked for, and
    /// allowed origins get `Access-Control-Allow-Origin`; others get no CORS headers.
    func testCORS() throws {
        var configuration = ServerConfiguration(port: 0, parallel: 1, contextLength: 256, alias: "smol", threads: 1)
        configuration.apiKey = TestServer.apiKey
        configuration.corsOrigins = ["https://app.example"]
        let cors = try TestServer(configuration: configuration)
        let preflight = try cors.client.request("OPTIONS", "/v1/chat/completions", headers: [
            "Origin": "https://app.example", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type"])
        XCTAssertEqual(preflight.status, 204, preflight.text)
        XCTAssertEqual(preflight.headers["access-control-allow-origin"], "https://app.example")
        XCTAssertTrue(preflight.headers["access-control-allow-methods"]?.contains("POST") ?? false)
        XCTAssertEqual(preflight.headers["access-control-allow-headers"], "authorization, content-type")
        let models = try cors.client.get("/v1/models", headers: auth.merging(["Origin": "https://app.example"]) { $1 })
        XCTAssertEqual(models.status, 200, models.text)
        XCTAssertEqual(models.headers["access-control-allow-origin"], "https://app.example")
        let other = try cors.client.get("/v1/models", headers: auth.merging(["Origin": "https://evil.example"]) { $1 })
        XCTAssertEqual(other.status, 200)
        XCTAssertNil(other.headers["access-control-allow-origin"])
        XCTAssertEqual(try cors.client.request("OPTIONS", "/v1/models", headers: ["Origin": "https://evil.example"]).status, 401,
                       "a preflight from an origin not allowed goes on to the API key check")
        XCTAssertNil(try client.get("/v1/models", headers: auth.merging(["Origin": "https://app.example"]) { $1 })
            .headers["access-control-allow-origin"], "no CORS without --cors-origins")
    }

    /// An HTTP/1.0 request gets an HTTP/1.0 answer: a stream without chunked framing, ended
    /// by closing the connection (RFC 9112 §6.3); a plain answer closes too unless the client
    /// asked for keep-alive. HTTP/1.1 keeps its chunked stream.
    func testHTTP10ClientsGetUnchunkedAnswersAndAClose() throws {
        func exchange(_ version: String, _ body: String, extra: String = "", wait: Double = 5) throws -> (head: String, body: String, closed: Bool) {
            let fd = try client.connectSocket()
            defer { close(fd) }
            var request = "POST /v1/completions HTTP/\(version)\r\nHost: x\r\nAuthorization: Bearer \(TestServer.apiKey)\r\n\(extra)"
            request += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
            try RawHTTPClient.sendAll(fd, Array(request.utf8))
            let (bytes, closed) = RawHTTPClient.readUntilClose(fd, timeout: wait * TestServer.timeScale)
            let text = String(decoding: bytes, as: UTF8.self)
            let parts = text.components(separatedBy: "\r\n\r\n")
            return (parts[0].lowercased(), parts.dropFirst().joined(separator: "\r\n\r\n"), closed)
        }
        let streamed = try exchange("1.0", #"{"prompt": "Hi", "max_tokens": 3, "stream": true}"#)
        XCTAssertTrue(streamed.head.hasPrefix("http/1.0 200"), streamed.head)
        XCTAssertFalse(streamed.head.contains("transfer-encoding"), streamed.head)
        XCTAssertTrue(streamed.head.contains("connection: close"), streamed.head)
        XCTAssertTrue(streamed.closed, "the end of a 1.0 stream is the close")
        XCTAssertTrue(streamed.body.hasPrefix("data: {"), streamed.body)
        XCTAssertTrue(streamed.body.hasSuffix("data: [DONE]\n\n"), streamed.body)

        let plain = try exchange("1.0", #"{"prompt": "Hi", "max_tokens": 2}"#)
        XCTAssertTrue(plain.head.contains("content-length"), plain.head)
        XCTAssertTrue(plain.closed)
        let kept = try exchange("1.0", #"{"prompt": "Hi", "max_tokens": 2}"#, extra: "Connection: keep-alive\r\n", wait: 1)
        XCTAssertTrue(kept.head.contains("connection: keep-alive"), kept.head)
        XCTAssertFalse(kept.closed, "a 1.0 client asking for keep-alive keeps a framed answer's connection")

        let modern = try exchange("1.1", #"{"prompt": "Hi", "max_tokens": 3, "stream": true}"#, extra: "Connection: close\r\n")
        XCTAssertTrue(modern.head.hasPrefix("http/1.1 200"), modern.head)
        XCTAssertTrue(modern.head.contains("transfer-encoding: chunked"), modern.head)
    }

    /// OpenAI's limits and fields Loom does not implement are 400s that name the field.
    func testOpenAILimitsAreEnforcedByName() throws {
        let base: [String: Any] = ["prompt": "Hi", "max_tokens": 2]
        func with(_ key: String, _ value: Any) -> [String: Any] { base.merging([key: value]) { $1 } }
        assertError(try client.post("/v1/completions", with("stop", ["a", "b", "c", "d", "e"]), headers: auth), 400, param: "stop")
        XCTAssertEqual(try client.post("/v1/completions", with("stop", ["a", "b", "c", "d"]), headers: auth).status, 200)
        assertError(try client.post("/v1/completions", with("best_of", 3), headers: auth), 400, param: "best_of")
        XCTAssertEqual(try client.post("/v1/completions", with("best_of", 1), headers: auth).status, 200)
        assertError(try client.post("/v1/completions", with("suffix", " end"), headers: auth), 400, param: "suffix")
        // A gzip-encoded body is named as such, not reported as malformed JSON.
        assertError(try client.post("/v1/completions", base, headers: auth.merging(["Content-Encoding": "gzip"]) { $1 }), 415,
                    code: "unsupported_content_encoding")
        let chat: [String: Any] = ["messages": [["role": "user", "content": "Hi"], ["role": "narrator", "content": "x"]], "max_tokens": 2]
        assertError(try client.post("/v1/chat/completions", chat, headers: auth), 400, param: "messages[1].role")
    }
}
