import Foundation

/// Where the hub is, who we are to it, where its files are cached, and how patient to be.
///
/// `fromEnvironment` reads the variables huggingface_hub reads (its `constants.py`):
/// `HF_ENDPOINT` (default `https://huggingface.co`), `HF_TOKEN` (else the token file
/// `$HF_HOME/token` that `huggingface-cli login` writes), `HF_HUB_OFFLINE`, and the cache
/// root `HF_HUB_CACHE`, else `$HF_HOME/hub`, else `$XDG_CACHE_HOME/huggingface/hub`, else
/// `~/.cache/huggingface/hub` — so Loom and Python tools share one cache.
public struct HubConfiguration: Sendable {
    /// Scheme and host (and optional path prefix) of the hub, without a trailing slash.
    public var endpoint: String
    /// Bearer token sent to the endpoint's host (never to a redirect target on another host).
    public var token: String?
    /// Use only the cache; a missing file is an error naming it.
    public var offline: Bool
    /// The HF cache root holding `models--OWNER--REPO` folders.
    public var cacheDirectory: String
    /// Where Loom records when each cached model was last used (`loom list`): `<loom cache>/last-used`,
    /// outside the HF cache so Python tools never meet files they do not know.
    public var usageDirectory: String
    /// Seconds to wait for a connection.
    public var connectTimeout: Double = 10
    /// Seconds without a single byte from the server before the request is abandoned (and retried).
    public var readTimeout: Double = 60
    /// Tries per request, counting the first, for 429, 5xx, dropped connections and timeouts.
    public var maxAttempts = 5
    /// First back-off delay in seconds when the server gives no `Retry-After`; doubles per try.
    public var retryBaseDelay: Double = 1
    /// Longest wait accepted from `Retry-After` or the back-off.
    public var maxRetryDelay: Double = 60
    /// Files downloaded at once (shards of one checkpoint).
    public var concurrentDownloads = 4

    /// The public hub, as huggingface_hub's `ENDPOINT` default.
    public static let defaultEndpoint = "https://huggingface.co"

    public init(endpoint: String = HubConfiguration.defaultEndpoint, token: String? = nil, offline: Bool = false,
                cacheDirectory: String, usageDirectory: String) {
        var endpoint = endpoint
        while endpoint.hasSuffix("/") { endpoint.removeLast() }
        self.endpoint = endpoint
        self.token = token
        self.offline = offline
        self.cacheDirectory = cacheDirectory
        self.usageDirectory = usageDirectory
    }

    /// The configuration the environment describes (see the type's documentation).
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> HubConfiguration {
        func value(_ name: String) -> String? {
            guard let text = environment[name]?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
            return text
        }
        let home = value("HOME") ?? NSHomeDirectory()
        let hfHome = value("HF_HOME").map { ($0 as NSString).expandingTildeInPath }
            ?? (value("XDG_CACHE_HOME") ?? home + "/.cache") + "/huggingface"
        let cache = (value("HF_HUB_CACHE") ?? value("HUGGINGFACE_HUB_CACHE")).map { ($0 as NSString).expandingTildeInPath }
            ?? hfHome + "/hub"
        var token = value("HF_TOKEN") ?? value("HUGGING_FACE_HUB_TOKEN")
        if token == nil, let saved = try? String(contentsOfFile: value("HF_TOKEN_PATH") ?? hfHome + "/token", encoding: .utf8) {
            let trimmed = saved.trimmingCharacters(in: .whitespacesAndNewlines)
            token = trimmed.isEmpty ? nil : trimmed
        }
        // constants.py `_is_true`: "1", "ON", "YES", "TRUE" in any case.
        let offline = value("HF_HUB_OFFLINE").map { ["1", "ON", "YES", "TRUE"].contains($0.uppercased()) } ?? false
        return HubConfiguration(
            endpoint: value("HF_ENDPOINT") ?? defaultEndpoint, token: token, offline: offline, cacheDirectory: cache,
            usageDirectory: ModelStore.defaultCacheDirectory(environment: environment) + "/last-used")
    }
}
