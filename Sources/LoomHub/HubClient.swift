import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The subset of the Hugging Face hub's HTTP API Loom uses, on async-http-client:
///
/// - `GET {endpoint}/api/models/{repo}/revision/{revision}?blobs=true` — the commit and files;
/// - `GET {endpoint}/{repo}/resolve/{commit}/{file}` — the file, after redirects (to a CDN
///   for LFS files; the first answer carries `X-Linked-Etag`, the LFS SHA-256, and
///   `X-Linked-Size`, as huggingface_hub's `file_download.py` reads them).
///
/// Requests carry `Authorization: Bearer $HF_TOKEN`; async-http-client drops it when a
/// redirect leaves the endpoint's origin. 429 and 5xx answers, dropped connections and read
/// timeouts are retried (waiting `Retry-After` when given, else an exponential back-off); a
/// download that stops midway is resumed with `Range` from what its `.incomplete` file holds.
public final class HubClient: Sendable {
    public let configuration: HubConfiguration
    private let http: HTTPClient

    public init(configuration: HubConfiguration) {
        self.configuration = configuration
        var config = HTTPClient.Configuration(
            redirectConfiguration: .follow(max: 10, allowCycles: false),
            timeout: .init(connect: .milliseconds(Int64(configuration.connectTimeout * 1000)),
                           read: .milliseconds(Int64(configuration.readTimeout * 1000))))
        config.decompression = .disabled
        // Refused connections fail at once; `withRetries` decides about another try.
        config.connectionPool.retryConnectionEstablishment = false
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: config)
    }

    /// Closes the client's connections; call once when done.
    public func shutdown() async {
        try? await http.shutdown()
    }

    // MARK: - Listing

    /// The commit `revision` points at and the repository's files there.
    /// `attempts` overrides the configured number of tries (one, when a cached copy can stand in).
    public func listing(repository: String, revision: String, attempts: Int? = nil, notices: FetchProgress = .silent) async throws -> HubRepositoryListing {
        let url = "\(configuration.endpoint)/api/models/\(repository)/revision/\(HubClient.escapeSegment(revision))?blobs=true"
        return try await withRetries(url: url, attempts: attempts, notices: notices) { _ in
            let response = try await self.send(self.request(url))
            try await HubClient.check(response, url: url, what: "repository \(repository) at revision \(revision)", hadToken: self.configuration.token != nil)
            let body = try await response.body.collect(upTo: 64 << 20)
            return try HubRepositoryListing.decode(Data(body.readableBytesView), url: url)
        }
    }

    // MARK: - Download

    /// What the resolve answer said about a file.
    public struct FileHeaders: Sendable, Equatable {
        /// `X-Linked-Etag` of the first answer (the LFS SHA-256), else the final `ETag`; unquoted.
        public var etag: String?
        /// `X-Repo-Commit`, the commit the file was served from.
        public var commit: String?
    }

    /// Downloads `file` of `repository` at `commit` into `incomplete`, appending to what is
    /// already there (`Range`) and retrying as described on the type. `onBytes` receives the
    /// file's bytes on disk so far. Does not verify the hash; the caller does, on the whole file.
    public func download(repository: String, commit: String, file: HubRemoteFile, to incomplete: String,
                         notices: FetchProgress = .silent, onBytes: @escaping @Sendable (Int64) -> Void) async throws -> FileHeaders {
        let url = "\(configuration.endpoint)/\(repository)/resolve/\(HubClient.escapeSegment(commit))/\(HubClient.escapePath(file.path))"
        return try await withRetries(url: url, notices: notices) { _ in
            var offset = HubCache.regularFileSize(incomplete) ?? 0
            if let size = file.size, offset > size { offset = 0 }   // not ours to resume
            var request = self.request(url)
            if offset > 0 { request.headers.replaceOrAdd(name: "Range", value: "bytes=\(offset)-") }
            let response = try await self.send(request)
            let headers = HubClient.fileHeaders(response)
            if response.status == .rangeNotSatisfiable, offset > 0, let size = file.size, offset == size {
                return headers   // the earlier try wrote the last byte; the caller verifies it
            }
            try await HubClient.check(response, url: url, what: "file \(file.path) of \(repository) at \(commit)", hadToken: self.configuration.token != nil)
            if let listed = file.sha256, let header = headers.etag, HubClient.isSHA256(header), header != listed {
                throw HubError.inconsistentMetadata(file: file.path, listing: listed, header: header)
            }
            var start: Int64 = 0
            if response.status == .partialContent {
                guard let range = response.headers.first(name: "Content-Range"), let first = HubClient.rangeStart(range), first == offset else {
                    unlink(incomplete)   // cannot be continued: the next try starts over
                    throw RetryableFailure(error: .network(url: url, attempts: 1, message: "the server answered a Range request for bytes \(offset)- with '\(response.headers.first(name: "Content-Range") ?? "no Content-Range")'"))
                }
                start = offset
            }
            let written = try await HubClient.stream(response.body, to: incomplete, from: start, readTimeout: self.configuration.readTimeout, onBytes: onBytes)
            if let size = file.size, written != size {
                if written > size {
                    unlink(incomplete)
                    throw HubError.sizeMismatch(file: file.path, expected: size, actual: written)
                }
                throw RetryableFailure(error: .network(url: url, attempts: 1, message: "the connection closed after \(written) of \(size) bytes"), retryAfter: nil)
            }
            return headers
        }
    }

    // MARK: - Requests

    private func request(_ url: String) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "User-Agent", value: "loom/1 (+swift async-http-client)")
        request.headers.add(name: "Accept-Encoding", value: "identity")
        if let token = configuration.token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        return request
    }

    /// Sends `request`; transport failures become retryable (they are worth another try).
    private func send(_ request: HTTPClientRequest) async throws -> HTTPClientResponse {
        do {
            return try await http.execute(request, timeout: .hours(24))
        } catch {
            throw RetryableFailure(error: .network(url: request.url, attempts: 1, message: HubClient.describe(error, readTimeout: configuration.readTimeout)), retryAfter: nil)
        }
    }

    /// Throws for every status but 200 and 206: 401/403/404 at once, 429 and 5xx as retryable.
    private static func check(_ response: HTTPClientResponse, url: String, what: String, hadToken: Bool) async throws {
        let status = Int(response.status.code)
        if status == 200 || status == 206 { return }
        var detail = response.headers.first(name: "X-Error-Message") ?? ""
        if detail.isEmpty { detail = (try? await errorText(response)) ?? "" }
        switch status {
        case 401, 403: throw HubError.unauthorized(url: url, status: status, hadToken: hadToken)
        case 404: throw HubError.notFound(url: url, what: detail.isEmpty ? what : "\(what) (\(detail))")
        case 429, 500...599:
            throw RetryableFailure(error: .httpStatus(url: url, status: status, detail: detail),
                                   retryAfter: response.headers.first(name: "Retry-After").flatMap(retryAfterSeconds))
        default: throw HubError.httpStatus(url: url, status: status, detail: detail)
        }
    }

    /// The start of the first 4 KB of an error body (HF sends `{"error": "..."}`).
    private static func errorText(_ response: HTTPClientResponse) async throws -> String {
        var bytes = [UInt8]()
        for try await chunk in response.body {
            bytes += chunk.readableBytesView.prefix(4096 - bytes.count)
            if bytes.count >= 4096 { break }
        }
        let text = String(decoding: bytes, as: UTF8.self)
        if let json = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any], let error = json["error"] as? String {
            return error
        }
        return text.trimmingCharacters(in: .whitespacesAndNewlines).prefix(300).description
    }

    // MARK: - Retries

    /// A failure worth another try: 429, 5xx, transport errors, short bodies.
    struct RetryableFailure: Error {
        var error: HubError
        var retryAfter: Double?
    }

    private func withRetries<T>(url: String, attempts: Int? = nil, notices: FetchProgress, _ body: (Int) async throws -> T) async throws -> T {
        let maxAttempts = max(1, attempts ?? configuration.maxAttempts)
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await body(attempt)
            } catch let failure as RetryableFailure {
                guard attempt < maxAttempts else { throw failure.error.withAttempts(attempt) }
                let backoff = configuration.retryBaseDelay * Double(1 << min(attempt - 1, 20))
                let delay = min(configuration.maxRetryDelay, max(0, failure.retryAfter ?? backoff))
                notices.report(.phase("\(failure.error.shortReason); retrying in \(String(format: "%.1f", delay)) s (try \(attempt + 1) of \(maxAttempts))…"))
                try await Task.sleep(nanoseconds: UInt64(delay * 1e9))
            }
        }
    }

    /// `Retry-After` as seconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3).
    static func retryAfterSeconds(_ value: String) -> Double? {
        let text = value.trimmingCharacters(in: .whitespaces)
        if let seconds = Double(text), seconds >= 0 { return seconds }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter.date(from: text).map { max(0, $0.timeIntervalSinceNow) }
    }

    // MARK: - Helpers

    /// Streams `body` into `path` starting at byte `start` (earlier bytes kept, later ones
    /// dropped); returns the file's size afterwards. Disk errors are not retried.
    private static func stream(_ body: HTTPClientResponse.Body, to path: String, from start: Int64, readTimeout: Double,
                               onBytes: @Sendable (Int64) -> Void) async throws -> Int64 {
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw HubError.io(path: path, message: "cannot create: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard ftruncate(fd, off_t(start)) == 0, lseek(fd, off_t(start), SEEK_SET) >= 0 else {
            throw HubError.io(path: path, message: "cannot prepare for writing: \(String(cString: strerror(errno)))")
        }
        var total = start
        onBytes(total)
        do {
            for try await chunk in body {
                try chunk.withUnsafeReadableBytes { try writeAll(fd, $0, path: path) }
                total += Int64(chunk.readableBytes)
                onBytes(total)
            }
        } catch let error as HubError {
            throw error
        } catch {
            _ = fsync(fd)   // keep what arrived for the next try's Range
            throw RetryableFailure(error: .network(url: path, attempts: 1, message: "the download stopped after \(total) bytes: \(describe(error, readTimeout: readTimeout))"), retryAfter: nil)
        }
        guard fsync(fd) == 0 else { throw HubError.io(path: path, message: "cannot write: \(String(cString: strerror(errno)))") }
        return total
    }

    /// Writes the whole buffer (``FileWriting/writeAll(_:_:)``), naming the file on failure.
    private static func writeAll(_ fd: Int32, _ chunk: UnsafeRawBufferPointer, path: String) throws {
        if let reason = FileWriting.writeAll(fd, chunk) { throw HubError.io(path: path, message: "cannot write: \(reason)") }
    }

    private static func fileHeaders(_ response: HTTPClientResponse) -> FileHeaders {
        let heads = response.history.map(\.responseHead.headers) + [response.headers]
        let linked = heads.lazy.compactMap { $0.first(name: "X-Linked-Etag") }.first
        let commit = heads.lazy.compactMap { $0.first(name: "X-Repo-Commit") }.first
        return FileHeaders(etag: (linked ?? response.headers.first(name: "ETag")).map(normalizeETag), commit: commit)
    }

    /// huggingface_hub's `_normalize_etag`: drop a weak `W/` prefix and the quotes.
    static func normalizeETag(_ etag: String) -> String {
        var text = etag.trimmingCharacters(in: .whitespaces)
        if text.hasPrefix("W/") { text.removeFirst(2) }
        return text.trimmingCharacters(in: CharacterSet(charactersIn: "\"")).lowercased()
    }

    static func isSHA256(_ text: String) -> Bool { text.count == 64 && text.allSatisfy(\.isHexDigit) }

    /// The first byte of `bytes START-END/TOTAL`.
    static func rangeStart(_ contentRange: String) -> Int64? {
        let text = contentRange.trimmingCharacters(in: .whitespaces)
        guard text.hasPrefix("bytes "), let dash = text.firstIndex(of: "-") else { return nil }
        return Int64(text[text.index(text.startIndex, offsetBy: 6)..<dash])
    }

    /// A revision as one path segment (`refs/pr/1` → `refs%2Fpr%2F1`, as huggingface_hub quotes it).
    static func escapeSegment(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")) ?? text
    }

    /// A file path with its folders kept.
    static func escapePath(_ path: String) -> String {
        path.split(separator: "/").map { escapeSegment(String($0)) }.joined(separator: "/")
    }

    static func describe(_ error: Error, readTimeout: Double?) -> String {
        if let error = error as? HTTPClientError {
            if error == .readTimeout { return "no data from the server for \(readTimeout.map { String(format: "%g", $0) + " s" } ?? "too long") (read timeout)" }
            if error == .connectTimeout { return "could not connect in time (connect timeout)" }
            if error == .remoteConnectionClosed { return "the server closed the connection" }
            return "\(error)"
        }
        if let error = error as? IOError { return "connection failed: \(String(cString: strerror(error.errnoCode)))" }
        return "\(error)"
    }
}

extension HubError {
    /// A failure of the hub or the network rather than of the request (a cached copy may stand in).
    var isTransient: Bool {
        switch self {
        case .network: return true
        case let .httpStatus(_, status, _): return status == 429 || status >= 500
        default: return false
        }
    }

    /// The message's gist for a retry notice.
    var shortReason: String {
        switch self {
        case let .httpStatus(_, status, _): return "HTTP \(status)"
        case let .network(_, _, message): return message
        default: return description
        }
    }

    /// The same error, saying how many tries were made.
    func withAttempts(_ attempts: Int) -> HubError {
        if case let .network(url, _, message) = self { return .network(url: url, attempts: attempts, message: message) }
        if case let .httpStatus(url, status, detail) = self {
            return .httpStatus(url: url, status: status, detail: (detail.isEmpty ? "" : detail + "; ") + "gave up after \(attempts) tries")
        }
        return self
    }
}
