import Foundation

/// Counters and gauges of the server, rendered as Prometheus text (llama.cpp's metric names
/// under a `loom:` prefix). Thread-safe.
public final class ServerMetrics: @unchecked Sendable {
    private let lock = NSLock()
    private var promptTokens = 0
    private var promptSeconds = 0.0
    private var generatedTokens = 0
    private var generationSeconds = 0.0
    private var decodeSteps = 0
    private var busySlotsOverSteps = 0
    private var requestsByStatus: [Int: Int] = [:]
    private var queueLength = 0
    private var activeSlots = 0
    private var kvTokens = 0
    private var kvCapacity = 1

    public init() {}

    func recordStep(promptTokens p: Int, generatedTokens g: Int, seconds: Double, busySlots: Int) {
        lock.withLock {
            promptTokens += p
            generatedTokens += g
            // A step's time is attributed to prompt and generation by token share.
            let total = Double(p + g)
            if total > 0 {
                promptSeconds += seconds * Double(p) / total
                generationSeconds += seconds * Double(g) / total
            }
            decodeSteps += 1
            busySlotsOverSteps += busySlots
        }
    }

    func setGauges(queue: Int, active: Int, kvTokens k: Int, kvCapacity cap: Int) {
        lock.withLock {
            queueLength = queue
            activeSlots = active
            kvTokens = k
            kvCapacity = max(cap, 1)
        }
    }

    /// Counts a finished HTTP request by status code.
    public func recordRequest(status: Int) {
        lock.withLock { requestsByStatus[status, default: 0] += 1 }
    }

    /// Current number of slots busy (for tests and shutdown).
    public var busySlots: Int { lock.withLock { activeSlots } }
    public var queued: Int { lock.withLock { queueLength } }

    /// Prometheus text exposition format 0.0.4.
    public func render() -> String {
        lock.withLock {
            var out = ""
            func metric(_ name: String, _ type: String, _ help: String, _ value: String) {
                out += "# HELP loom:\(name) \(help)\n# TYPE loom:\(name) \(type)\nloom:\(name) \(value)\n"
            }
            metric("prompt_tokens_total", "counter", "Prompt tokens evaluated.", "\(promptTokens)")
            metric("prompt_seconds_total", "counter", "Seconds spent on prompt tokens.", "\(promptSeconds)")
            metric("tokens_predicted_total", "counter", "Tokens generated.", "\(generatedTokens)")
            metric("tokens_predicted_seconds_total", "counter", "Seconds spent generating tokens.", "\(generationSeconds)")
            metric("n_decode_total", "counter", "Batched forward passes run.", "\(decodeSteps)")
            metric("n_busy_slots_per_decode", "gauge", "Average busy slots per forward pass.",
                   "\(decodeSteps == 0 ? 0 : Double(busySlotsOverSteps) / Double(decodeSteps))")
            metric("prompt_tokens_seconds", "gauge", "Prompt throughput (tokens/s).",
                   "\(promptSeconds > 0 ? Double(promptTokens) / promptSeconds : 0)")
            metric("predicted_tokens_seconds", "gauge", "Generation throughput (tokens/s).",
                   "\(generationSeconds > 0 ? Double(generatedTokens) / generationSeconds : 0)")
            metric("kv_cache_usage_ratio", "gauge", "Fraction of KV-cache positions in use.", "\(Double(kvTokens) / Double(kvCapacity))")
            metric("kv_cache_tokens", "gauge", "KV-cache positions in use.", "\(kvTokens)")
            metric("requests_processing", "gauge", "Slots generating now.", "\(activeSlots)")
            metric("requests_deferred", "gauge", "Requests waiting in the queue.", "\(queueLength)")
            out += "# HELP loom:requests_total HTTP requests answered, by status.\n# TYPE loom:requests_total counter\n"
            for (status, count) in requestsByStatus.sorted(by: { $0.key < $1.key }) {
                out += "loom:requests_total{status=\"\(status)\"} \(count)\n"
            }
            return out
        }
    }
}
