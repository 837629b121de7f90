import Foundation

/// Why a hub reference could not be turned into local files. Every message names the
/// repository or file and says what to do next.
public enum HubError: Error, Equatable, CustomStringConvertible, LocalizedError {
    /// 401/403: the repository is private or gated (or does not exist: the hub answers 401
    /// for unknown repositories to callers without a token).
    case unauthorized(url: String, status: Int, hadToken: Bool)
    /// 404: no such repository, revision or file.
    case notFound(url: String, what: String)
    /// Another status the client does not retry, or a retryable one after the last try.
    case httpStatus(url: String, status: Int, detail: String)
    /// The connection failed, dropped or timed out on every try.
    case network(url: String, attempts: Int, message: String)
    /// The repository listing could not be understood.
    case badListing(url: String, reason: String)
    /// The named file is not in the repository.
    case fileNotInRepository(repository: String, file: String, ggufFiles: [String])
    /// No GGUF file of the repository matches the quantisation.
    case noMatchingQuant(repository: String, quant: String, ggufFiles: [String])
    /// Several GGUF files fit and none was chosen.
    case ambiguousGGUF(repository: String, candidates: [String])
    /// The repository has nothing Loom can load.
    case nothingToFetch(repository: String, files: [String])
    /// Offline mode (or the hub unreachable) and the cache lacks what is needed.
    case offlineMissing(reference: String, missing: String)
    /// The download's SHA-256 differs from the hub's; the file was deleted.
    case checksumMismatch(file: String, expected: String, actual: String)
    /// The download's size differs from the hub's; the file was deleted.
    case sizeMismatch(file: String, expected: Int64, actual: Int64)
    /// The listing and the resolve headers disagree about a file's hash.
    case inconsistentMetadata(file: String, listing: String, header: String)
    /// A file-system operation failed (a full disk, permissions).
    case io(path: String, message: String)

    public var description: String {
        switch self {
        case let .unauthorized(url, status, hadToken):
            return hadToken
                ? "\(url): HTTP \(status): the token in HF_TOKEN is not allowed to read this repository (is it gated? accept its terms on the hub), or the repository does not exist."
                : "\(url): HTTP \(status): the repository is private or gated, or does not exist. Set HF_TOKEN to a token that can read it."
        case let .notFound(url, what):
            return "\(url): HTTP 404: \(what) was not found on the hub. Check the repository name, revision and file name."
        case let .httpStatus(url, status, detail):
            return "\(url): HTTP \(status)\(detail.isEmpty ? "" : ": \(detail)")."
        case let .network(url, attempts, message):
            return "\(url): \(message) (gave up after \(attempts) tr\(attempts == 1 ? "y" : "ies")). Check the connection or HF_ENDPOINT; use --offline to run from the cache."
        case let .badListing(url, reason):
            return "\(url): the repository listing could not be read: \(reason)."
        case let .fileNotInRepository(repository, file, gguf):
            return "\(repository) has no file '\(file)'." + (gguf.isEmpty ? "" : " Its GGUF files: \(gguf.joined(separator: ", ")).")
        case let .noMatchingQuant(repository, quant, gguf):
            return gguf.isEmpty
                ? "\(repository) has no GGUF files, so there is no '\(quant)' quantisation; name the repository alone for a safetensors model."
                : "no GGUF file of \(repository) has '\(quant)' in its name. Its GGUF files: \(gguf.joined(separator: ", "))."
        case let .ambiguousGGUF(repository, candidates):
            return "\(repository) has several GGUF files: \(candidates.joined(separator: ", ")). Pick one with hf:\(repository):QUANT or hf:\(repository)/FILE.gguf."
        case let .nothingToFetch(repository, files):
            return "\(repository) has no GGUF, safetensors or adapter files Loom can load (files: \(files.prefix(20).joined(separator: ", ")))."
        case let .offlineMissing(reference, missing):
            return "offline: \(reference) is not fully cached: \(missing). Run `loom pull \(reference)` while online, or unset HF_HUB_OFFLINE / drop --offline."
        case let .checksumMismatch(file, expected, actual):
            return "SHA-256 mismatch for \(file): the hub says \(expected), the download has \(actual). The file was deleted; try again."
        case let .sizeMismatch(file, expected, actual):
            return "\(file) has \(actual) bytes but the hub says \(expected). The file was deleted; try again."
        case let .inconsistentMetadata(file, listing, header):
            return "the hub's listing gives \(file) the SHA-256 \(listing) but its download headers say \(header); not downloading it."
        case let .io(path, message):
            return "\(path): \(message)"
        }
    }

    public var errorDescription: String? { description }
}
