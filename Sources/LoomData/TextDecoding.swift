import Foundation

/// Turns file bytes into text: UTF-8 (a byte order mark dropped), UTF-16 with a byte order
/// mark, or UTF-8 with invalid sequences repaired to U+FFFD and counted; and tells binary
/// files (a NUL byte near the start) from text.
public enum TextDecoding {
    /// The outcome of decoding a file.
    public enum Result: Equatable {
        /// Valid text.
        case text(String)
        /// Text that had `invalidSequences` invalid UTF-8 sequences, each replaced by U+FFFD.
        case repaired(String, invalidSequences: Int)
        /// Not text.
        case binary
    }

    /// Decodes `bytes`.
    public static func decode(_ bytes: [UInt8]) -> Result {
        if bytes.starts(with: [0xFF, 0xFE]) || bytes.starts(with: [0xFE, 0xFF]) {
            if let s = String(data: Data(bytes), encoding: .utf16) { return .text(s) }
            return .binary
        }
        var body = bytes[...]
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { body = bytes[3...] }
        // Text files have no NUL bytes; binaries (images, archives, executables) almost always do early on.
        if body.prefix(8192).contains(0) { return .binary }
        if let s = String(validating: body, as: UTF8.self) { return .text(s) }
        let repaired = String(decoding: body, as: UTF8.self)
        var replacements = 0
        for scalar in repaired.unicodeScalars where scalar == "\u{FFFD}" { replacements += 1 }
        // Replacement characters that were already in the file (valid EF BF BD) are not repairs.
        var original = 0
        var i = body.startIndex
        while i + 2 < body.endIndex {
            if body[i] == 0xEF && body[i + 1] == 0xBF && body[i + 2] == 0xBD { original += 1; i += 3 } else { i += 1 }
        }
        return .repaired(repaired, invalidSequences: max(1, replacements - original))
    }
}
