import XCTest
@testable import LoomServer

/// The `/metrics` exposition without a model: every metric name and type scrapers rely on,
/// values after a few recorded steps, and independent instances in one process.
final class ServerMetricsTests: XCTestCase {
    /// `name → type` from the `# TYPE` lines, and `series → value` from the samples.
    func parse(_ text: String) -> (types: [String: String], values: [String: Double]) {
        var types: [String: String] = [:], values: [String: Double] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if line.hasPrefix("# TYPE "), parts.count == 4 {
                types[String(parts[2])] = String(parts[3])
            } else if !line.hasPrefix("#"), parts.count == 2 {
                values[String(parts[0])] = Double(parts[1])
            }
        }
        return (types, values)
    }

    func testNamesTypesAndValues() throws {
        let metrics = ServerMetrics()
        metrics.recordStep(promptTokens: 30, generatedTokens: 0, seconds: 0.5, busySlots: 1)
        metrics.recordStep(promptTokens: 0, generatedTokens: 2, seconds: 0.1, busySlots: 2)
        metrics.recordStep(promptTokens: 6, generatedTokens: 2, seconds: 0.2, busySlots: 3)
        metrics.setGauges(queue: 3, active: 2, kvTokens: 64, kvCapacity: 256)
        metrics.recordRequest(status: 200)
        metrics.recordRequest(status: 200)
        metrics.recordRequest(status: 404)
        let (types, values) = parse(metrics.render())

        let counters = ["prompt_tokens_total", "prompt_seconds_total", "tokens_predicted_total",
                        "tokens_predicted_seconds_total", "n_decode_total", "requests_total", "prompt_tokens_cached_total", "prompt_tokens_shared_total"]
        let gauges = ["n_busy_slots_per_decode", "prompt_tokens_seconds", "predicted_tokens_seconds",
                      "kv_cache_usage_ratio", "kv_cache_tokens", "requests_processing", "requests_deferred"]
        for name in counters { XCTAssertEqual(types["loom:" + name], "counter", name) }
        for name in gauges { XCTAssertEqual(types["loom:" + name], "gauge", name) }
        XCTAssertEqual(types.count, counters.count + gauges.count, "\(types)")

        XCTAssertEqual(values["loom:prompt_tokens_total"], 36)
        XCTAssertEqual(values["loom:tokens_predicted_total"], 4)
        XCTAssertEqual(values["loom:n_decode_total"], 3)
        // 0.5 s all prompt, 0.1 s all generation, 0.2 s split 6:2.
        XCTAssertEqual(try XCTUnwrap(values["loom:prompt_seconds_total"]), 0.65, accuracy: 1e-9)
        XCTAssertEqual(try XCTUnwrap(values["loom:tokens_predicted_seconds_total"]), 0.15, accuracy: 1e-9)
        XCTAssertEqual(try XCTUnwrap(values["loom:prompt_tokens_seconds"]), 36 / 0.65, accuracy: 1e-6)
        XCTAssertEqual(try XCTUnwrap(values["loom:predicted_tokens_seconds"]), 4 / 0.15, accuracy: 1e-6)
        XCTAssertEqual(values["loom:n_busy_slots_per_decode"], 2)
        XCTAssertEqual(values["loom:kv_cache_tokens"], 64)
        XCTAssertEqual(values["loom:kv_cache_usage_ratio"], 0.25)
        XCTAssertEqual(values["loom:requests_processing"], 2)
        XCTAssertEqual(values["loom:requests_deferred"], 3)
        XCTAssertEqual(values["loom:requests_total{status=\"200\"}"], 2)
        XCTAssertEqual(values["loom:requests_total{status=\"404\"}"], 1)
        XCTAssertEqual(metrics.busySlots, 2)
        XCTAssertEqual(metrics.queued, 3)
    }

    /// Two servers in one process keep separate metrics (no process-global bootstrap).
    func testInstancesAreIndependent() {
        let a = ServerMetrics(), b = ServerMetrics()
        a.recordStep(promptTokens: 5, generatedTokens: 1, seconds: 0.1, busySlots: 1)
        a.recordRequest(status: 200)
        XCTAssertEqual(parse(a.render()).values["loom:prompt_tokens_total"], 5)
        let other = parse(b.render()).values
        XCTAssertEqual(other["loom:prompt_tokens_total"], 0)
        XCTAssertNil(other["loom:requests_total{status=\"200\"}"])
    }
}
