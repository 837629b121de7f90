import Foundation

/// A repository at one commit, as `GET {endpoint}/api/models/{repo}/revision/{rev}?blobs=true`
/// answers: `{"sha": COMMIT, "siblings": [{"rfilename", "size", "blobId", "lfs": {"sha256",
/// "size", "pointerSize"}}]}` (huggingface_hub's `hf_api.py`, `model_info(files_metadata=True)`
/// and its `RepoSibling` / `BlobLfsInfo`).
public struct HubRepositoryListing: Sendable, Equatable {
    /// The commit the revision resolved to.
    public var commit: String
    public var files: [HubRemoteFile]

    public init(commit: String, files: [HubRemoteFile]) {
        self.commit = commit
        self.files = files
    }

    /// Decodes the JSON body; `url` is named in errors.
    public static func decode(_ data: Data, url: String) throws -> HubRepositoryListing {
        struct Body: Decodable {
            struct Sibling: Decodable {
                struct LFS: Decodable { var sha256: String; var size: Int64? }
                var rfilename: String
                var size: Int64?
                var blobId: String?
                var lfs: LFS?
            }
            var sha: String?
            var siblings: [Sibling]?
        }
        let body: Body
        do {
            body = try JSONDecoder().decode(Body.self, from: data)
        } catch {
            throw HubError.badListing(url: url, reason: "not the expected JSON (\(error))")
        }
        guard let commit = body.sha, !commit.isEmpty else { throw HubError.badListing(url: url, reason: "no commit \"sha\"") }
        guard let siblings = body.siblings else { throw HubError.badListing(url: url, reason: "no \"siblings\" file list") }
        var files: [HubRemoteFile] = []
        for sibling in siblings {
            let path = sibling.rfilename
            guard !path.isEmpty, !path.hasPrefix("/"), !path.split(separator: "/").contains(where: { $0 == ".." || $0 == "." }) else {
                throw HubError.badListing(url: url, reason: "unsafe file name '\(path)'")
            }
            let sha = sibling.lfs?.sha256.lowercased()
            if let sha, sha.count != 64 || !sha.allSatisfy(\.isHexDigit) {
                throw HubError.badListing(url: url, reason: "'\(path)' has a malformed LFS sha256 '\(sha)'")
            }
            files.append(HubRemoteFile(path: path, size: sibling.lfs?.size ?? sibling.size, sha256: sha, blobID: sibling.blobId))
        }
        return HubRepositoryListing(commit: commit, files: files)
    }
}

/// One file of a hub repository.
public struct HubRemoteFile: Sendable, Equatable, Hashable {
    /// Path inside the repository.
    public var path: String
    /// Bytes, when the listing says.
    public var size: Int64?
    /// The LFS SHA-256 (lower-case hex), for files stored with git-lfs: what the download is
    /// checked against and the blob's name in the cache.
    public var sha256: String?
    /// The git blob id (names small non-LFS files' blobs, as huggingface_hub's etag does).
    public var blobID: String?

    public init(path: String, size: Int64?, sha256: String?, blobID: String?) {
        self.path = path
        self.size = size
        self.sha256 = sha256
        self.blobID = blobID
    }

    /// The file name without folders.
    public var name: String { String(path.split(separator: "/").last ?? Substring(path)) }

    /// True for a GGUF model file (multimodal projectors, `mmproj-*.gguf`, are not models).
    public var isGGUFModel: Bool {
        let lower = name.lowercased()
        return lower.hasSuffix(".gguf") && !lower.contains("mmproj")
    }
}
