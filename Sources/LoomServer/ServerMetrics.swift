import Foundation
import Metrics
// Only these two: Prometheus has its own Counter and Gauge, and the ones used here are swift-metrics'.
import class Prometheus.PrometheusCollectorRegistry
import struct Prometheus.PrometheusMetricsFactory

/// Counters and gauges of the server (llama.cpp's metric names under a `loom:` prefix),
/// recorded through swift-metrics and rendered by swift-prometheus. Thread-safe.
///
/// Each instance has its own `PrometheusCollectorRegistry` and a `PrometheusMetricsFactory`
/// over it, passed explicitly to every metric: swift-metrics' `MetricsSystem.bootstrap` is
/// process-global (and may run only once), so several servers in one process (tests) would
/// otherwise share, or fight over, one set of metrics.
///
/// The swift-metrics factory gives no help text, so the exposition has `# TYPE` lines but no
/// `# HELP` lines.
public final class ServerMetrics: @unchecked Sendable {
    private let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory

    private let promptTokensTotal: Counter
    private let cachedPromptTokensTotal: Counter
    private let sharedPromptTokensTotal: Counter
    private let promptSecondsTotal: FloatingPointCounter
    private let predictedTokensTotal: Counter
    private let predictedSecondsTotal: FloatingPointCounter
    private let decodeTotal: Counter
    private let busySlotsPerDecode: Gauge
    private let promptTokensPerSecond: Gauge
    private let predictedTokensPerSecond: Gauge
    private let kvUsageRatio: Gauge
    private let kvTokens: Gauge
    private let processing: Gauge
    private let deferred: Gauge
    /// `loom:requests_total{status=…}`, one counter per status code seen.
    private var requestsByStatus: [Int: Counter] = [:]

    /// Running sums behind the averages and rates (gauges derived from several counters).
    private let lock = NSLock()
    private var promptTokens = 0
    private var promptSeconds = 0.0
    private var generatedTokens = 0
    private var generationSeconds = 0.0
    private var decodeSteps = 0
    private var busySlotsOverSteps = 0
    private var queueLength = 0
    private var activeSlots = 0

    public init() {
        let factory = PrometheusMetricsFactory(registry: registry)
        self.factory = factory
        promptTokensTotal = Counter(label: "loom:prompt_tokens_total", factory: factory)
        cachedPromptTokensTotal = Counter(label: "loom:prompt_tokens_cached_total", factory: factory)
        sharedPromptTokensTotal = Counter(label: "loom:prompt_tokens_shared_total", factory: factory)
        promptSecondsTotal = FloatingPointCounter(label: "loom:prompt_seconds_total", factory: factory)
        predictedTokensTotal = Counter(label: "loom:tokens_predicted_total", factory: factory)
        predictedSecondsTotal = FloatingPointCounter(label: "loom:tokens_predicted_seconds_total", factory: factory)
        decodeTotal = Counter(label: "loom:n_decode_total", factory: factory)
        busySlotsPerDecode = Gauge(label: "loom:n_busy_slots_per_decode", factory: factory)
        promptTokensPerSecond = Gauge(label: "loom:prompt_tokens_seconds", factory: factory)
        predictedTokensPerSecond = Gauge(label: "loom:predicted_tokens_seconds", factory: factory)
        kvUsageRatio = Gauge(label: "loom:kv_cache_usage_ratio", factory: factory)
        kvTokens = Gauge(label: "loom:kv_cache_tokens", factory: factory)
        processing = Gauge(label: "loom:requests_processing", factory: factory)
        deferred = Gauge(label: "loom:requests_deferred", factory: factory)
        // Every metric appears from the first scrape on, as before (zero until recorded).
        for gauge in [busySlotsPerDecode, promptTokensPerSecond, predictedTokensPerSecond, kvUsageRatio, kvTokens,
                      processing, deferred] {
            gauge.record(0)
        }
    }

    func recordStep(promptTokens p: Int, generatedTokens g: Int, seconds: Double, busySlots: Int) {
        lock.withLock {
            promptTokens += p
            generatedTokens += g
            // A step's time is attributed to prompt and generation by token share.
            let total = Double(p + g)
            var promptShare = 0.0, generationShare = 0.0
            if total > 0 {
                promptShare = seconds * Double(p) / total
                generationShare = seconds * Double(g) / total
            }
            promptSeconds += promptShare
            generationSeconds += generationShare
            decodeSteps += 1
            busySlotsOverSteps += busySlots

            promptTokensTotal.increment(by: Int64(p))
            predictedTokensTotal.increment(by: Int64(g))
            promptSecondsTotal.increment(by: promptShare)
            predictedSecondsTotal.increment(by: generationShare)
            decodeTotal.increment()
            busySlotsPerDecode.record(Double(busySlotsOverSteps) / Double(decodeSteps))
            promptTokensPerSecond.record(promptSeconds > 0 ? Double(promptTokens) / promptSeconds : 0)
            predictedTokensPerSecond.record(generationSeconds > 0 ? Double(generatedTokens) / generationSeconds : 0)
        }
    }

    /// Counts prompt tokens a job took from a slot's cache instead of evaluating them.
    func recordCachedPromptTokens(_ count: Int) {
        cachedPromptTokensTotal.increment(by: Int64(count))
    }

    /// Counts prompt tokens a job copied from a slot evaluating the same prompt (`n` > 1).
    func recordSharedPromptTokens(_ count: Int) {
        sharedPromptTokensTotal.increment(by: Int64(count))
    }

    func setGauges(queue: Int, active: Int, kvTokens k: Int, kvCapacity cap: Int) {
        lock.withLock {
            queueLength = queue
            activeSlots = active
            deferred.record(Int64(queue))
            processing.record(Int64(active))
            kvTokens.record(Int64(k))
            kvUsageRatio.record(Double(k) / Double(max(cap, 1)))
        }
    }

    /// Counts a finished HTTP request by status code.
    public func recordRequest(status: Int) {
        let counter = lock.withLock {
            if let counter = requestsByStatus[status] { return counter }
            let counter = Counter(label: "loom:requests_total", dimensions: [("status", "\(status)")], factory: factory)
            requestsByStatus[status] = counter
            return counter
        }
        counter.increment()
    }

    /// Current number of slots busy (for tests and shutdown).
    public var busySlots: Int { lock.withLock { activeSlots } }
    public var queued: Int { lock.withLock { queueLength } }

    /// Prometheus text exposition format 0.0.4.
    public func render() -> String {
        registry.emitToString()
    }
}
