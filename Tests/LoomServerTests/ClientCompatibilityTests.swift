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
