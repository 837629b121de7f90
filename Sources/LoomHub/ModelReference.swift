import Foundation

/// What a `-m`, `--lora` or model argument names: a local path, a catalog model, or a
/// Hugging Face hub repository (optionally one GGUF file of it, at a revision).
///
/// Forms (the same as llama.cpp's `-hf OWNER/REPO[:QUANT]`, with an `hf:` prefix so a
/// relative path can never be mistaken for a repository):
/// - `hf:OWNER/REPO` — the repository: a safetensors model or PEFT adapter directory, or
///   its only GGUF (Q4_K_M when there are several and one is Q4_K_M);
/// - `hf:OWNER/REPO:QUANT` — the GGUF whose name contains QUANT (any case), e.g. `Q8_0`;
/// - `hf:OWNER/REPO/FILE.gguf` — that GGUF file (it may sit in a folder of the repo);
/// - any of these followed by `@REVISION` (a branch, tag or commit; default `main`);
/// - anything else: an existing path, or a catalog name (`smollm2`).
///
/// ```swift
/// let ref = try ModelReference.parse("hf:Qwen/Qwen2.5-0.5B-Instruct-GGUF:q8_0@main")
/// ```
public enum ModelReference: Equatable, Sendable, CustomStringConvertible {
    /// A file or directory on disk, or a catalog name (the model store tells them apart).
    case local(String)
    /// A hub repository, or one file of it.
    case hub(HubReference)

    /// The prefix that marks a hub reference.
    public static let hubPrefix = "hf:"

    /// The accepted forms, for error messages.
    public static let expectedForms =
        "hf:OWNER/REPO, hf:OWNER/REPO:QUANT, hf:OWNER/REPO/FILE.gguf (each optionally followed by @REVISION), a catalog name, or a path"

    /// Parses `text`. Only `hf:` references are checked here; other text is passed on as
    /// `.local` (the model store says whether it is a path or a known name).
    public static func parse(_ text: String) throws -> ModelReference {
        guard text.hasPrefix(hubPrefix) else { return .local(text) }
        return .hub(try HubReference(parsing: String(text.dropFirst(hubPrefix.count)), original: text))
    }

    public var description: String {
        switch self {
        case let .local(text): return text
        case let .hub(reference): return reference.description
        }
    }
}

/// A parsed `hf:OWNER/REPO[:QUANT | /FILE][@REVISION]` reference.
public struct HubReference: Equatable, Hashable, Sendable, CustomStringConvertible {
    /// `OWNER/REPO`.
    public var repository: String
    /// The file inside the repository (`FILE.gguf`, maybe in a folder), if one was named.
    public var file: String?
    /// The quantisation to pick among the repository's GGUF files, if one was named.
    public var quant: String?
    /// Branch, tag or commit hash.
    public var revision: String

    /// The default revision, as huggingface_hub's `constants.DEFAULT_REVISION`.
    public static let defaultRevision = "main"

    public init(repository: String, file: String? = nil, quant: String? = nil, revision: String = HubReference.defaultRevision) {
        self.repository = repository
        self.file = file
        self.quant = quant
        self.revision = revision
    }

    /// Parses the part after `hf:`; `original` is quoted in errors.
    init(parsing body: String, original: String) throws {
        func bad(_ why: String) -> HubReferenceError { HubReferenceError(reference: original, problem: why) }
        var rest = Substring(body)
        revision = HubReference.defaultRevision
        if let at = rest.firstIndex(of: "@") {
            let rev = rest[rest.index(after: at)...]
            guard !rev.isEmpty else { throw bad("nothing follows '@' (expected a branch, tag or commit)") }
            guard !rev.contains(where: { $0 == ":" || $0 == "@" || $0.isWhitespace }), !rev.contains("..") else {
                throw bad("'\(rev)' is not a revision")
            }
            revision = String(rev)
            rest = rest[..<at]
        }
        quant = nil
        if let colon = rest.firstIndex(of: ":") {
            let q = rest[rest.index(after: colon)...]
            guard !q.isEmpty, q.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == "." }) else {
                throw bad("'\(q)' is not a quantisation name (e.g. Q4_K_M, Q8_0)")
            }
            quant = String(q)
            rest = rest[..<colon]
        }
        let parts = rest.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count >= 2, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw bad("expected OWNER/REPO after 'hf:'")
        }
        for part in parts.prefix(2) {
            guard part.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") }),
                  part != ".", part != ".." else {
                throw bad("'\(part)' is not a valid owner or repository name (letters, digits, '-', '_', '.')")
            }
        }
        repository = "\(parts[0])/\(parts[1])"
        if parts.count > 2 {
            let path = parts[2...]
            guard path.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." }) else {
                throw bad("'\(path.joined(separator: "/"))' is not a file path inside the repository")
            }
            let joined = path.joined(separator: "/")
            guard joined.lowercased().hasSuffix(".gguf") else {
                throw bad("a file inside the repository must be a .gguf file, got '\(joined)' (name the repository itself for safetensors or adapters)")
            }
            guard quant == nil else { throw bad("give either a file or a quantisation, not both") }
            file = joined
        } else {
            file = nil
        }
    }

    /// `OWNER`.
    public var owner: String { String(repository.split(separator: "/")[0]) }
    /// `REPO`.
    public var name: String { String(repository.split(separator: "/")[1]) }

    /// The canonical text form, `hf:OWNER/REPO[:QUANT|/FILE][@REVISION]` (`@main` omitted).
    public var description: String {
        var text = ModelReference.hubPrefix + repository
        if let file { text += "/" + file }
        if let quant { text += ":" + quant }
        if revision != HubReference.defaultRevision { text += "@" + revision }
        return text
    }
}

/// A malformed `hf:` reference: says what is wrong and which forms are accepted.
public struct HubReferenceError: Error, Equatable, CustomStringConvertible, LocalizedError {
    public var reference: String
    public var problem: String

    public var description: String {
        "'\(reference)' is not a valid model reference: \(problem). Expected \(ModelReference.expectedForms)."
    }

    public var errorDescription: String? { description }
}
