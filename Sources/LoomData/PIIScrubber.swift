import Foundation

/// `loom data scrub`'s replacer: finds personal data and secrets in text and replaces each
/// with a typed placeholder (`<EMAIL>`, `<PHONE>`, `<IP_ADDRESS>`, `<BTC_ADDRESS>`,
/// `<ETH_ADDRESS>`, `<SECRET>`), counting them by kind.
///
/// Patterns are followed by validation where a format has one, to keep clean text clean:
/// IPv6 candidates must parse (`inet_pton`), bech32 addresses must carry a valid BIP-173 /
/// BIP-350 checksum, phone numbers need 10 to 15 digits (8 with a `+` country code) and
/// separators, and `key = value` secrets need a value of 16+ characters mixing letters and
/// digits. Kinds are applied in a fixed order (secrets first, phones last) so a longer match
/// is not split by a shorter one.
public struct PIIScrubber: Sendable {
    /// A kind of personal data or secret.
    public enum Kind: String, CaseIterable, Sendable {
        case secret, email, ethAddress = "eth_address", btcAddress = "btc_address", ipAddress = "ip_address", phone
        /// Its placeholder.
        public var placeholder: String {
            switch self {
            case .secret: return "<SECRET>"
            case .email: return "<EMAIL>"
            case .ethAddress: return "<ETH_ADDRESS>"
            case .btcAddress: return "<BTC_ADDRESS>"
            case .ipAddress: return "<IP_ADDRESS>"
            case .phone: return "<PHONE>"
            }
        }
    }

    struct Rule: @unchecked Sendable {
        var kind: Kind
        var regex: NSRegularExpression
        /// The capture group replaced (0: the whole match).
        var group: Int = 0
        var validate: (@Sendable (String) -> Bool)? = nil
    }

    let rules: [Rule]

    /// A scrubber for `kinds` (default: all).
    public init(kinds: Set<Kind> = Set(Kind.allCases)) {
        func re(_ pattern: String, _ options: NSRegularExpression.Options = []) -> NSRegularExpression {
            // The patterns are constants checked by the tests, so a failure here is a programming error.
            try! NSRegularExpression(pattern: pattern, options: options)
        }
        let b = "(?<![A-Za-z0-9_])"
        let e = "(?![A-Za-z0-9_])"
        var all: [Rule] = [
            Rule(kind: .secret, regex: re("-----BEGIN [A-Z ]*PRIVATE KEY-----[\\s\\S]*?-----END [A-Z ]*PRIVATE KEY-----")),
            Rule(kind: .secret, regex: re(b + "(?:sk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}|AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,}|xox[abposr]-[A-Za-z0-9-]{10,}|AIza[0-9A-Za-z_-]{35}|(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{16,}|hf_[A-Za-z0-9]{30,}|glpat-[A-Za-z0-9_-]{20,})" + e)),
            Rule(kind: .secret,
                 regex: re("\\b(?:api[_-]?key|secret[_-]?key|access[_-]?key|access[_-]?token|auth[_-]?token|client[_-]?secret|private[_-]?key|password|passwd|token|secret)[\"']?\\s*[:=]\\s*[\"']?([A-Za-z0-9_\\-/+=]{16,})", [.caseInsensitive]),
                 group: 1,
                 validate: { v in v.contains(where: { $0.isNumber }) && v.contains(where: { $0.isLetter }) }),
            Rule(kind: .email, regex: re("(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\\.[A-Za-z]{2,}" + e)),
            Rule(kind: .ethAddress, regex: re(b + "0x[0-9a-fA-F]{40}" + e)),
            Rule(kind: .btcAddress, regex: re(b + "(?:bc1|BC1)[02-9ac-hj-np-zAC-HJ-NP-Z]{11,71}" + e), validate: { Self.isBech32Address($0) }),
            Rule(kind: .btcAddress, regex: re(b + "[13][1-9A-HJ-NP-Za-km-z]{25,34}" + e),
                 validate: { v in v.contains(where: { $0.isLetter }) && v.dropFirst().contains(where: { $0.isNumber }) && v.contains(where: { $0.isUppercase }) && v.contains(where: { $0.isLowercase }) }),
            Rule(kind: .ipAddress, regex: re("(?<![0-9A-Za-z_:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![0-9A-Za-z_:])"), validate: { Self.isIPv6($0) }),
            // Four single-digit parts ("2.7.2.2") are a version number far more often than an address.
            Rule(kind: .ipAddress, regex: re("(?<![0-9A-Za-z_.])(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(?![0-9A-Za-z_]|\\.[0-9])"),
                 validate: { v in v.split(separator: ".").contains { $0.count > 1 } }),
            Rule(kind: .phone, regex: re("(?<![A-Za-z0-9_+])(?:\\+[0-9]{1,3}[ .-]?)?(?:\\([0-9]{1,4}\\)[ .-]?)?[0-9]{2,4}(?:[ .-][0-9]{2,4}){1,4}(?![0-9A-Za-z_]|[.-][0-9])"),
                 validate: { Self.isPhone($0) }),
        ]
        all.removeAll { !kinds.contains($0.kind) }
        rules = all
    }

    /// `text` with every match replaced, and the replacements per kind.
    public func scrub(_ text: String) -> (text: String, counts: [Kind: Int]) {
        var current = text
        var counts: [Kind: Int] = [:]
        for rule in rules {
            let matches = rule.regex.matches(in: current, range: NSRange(location: 0, length: current.utf16.count))
            if matches.isEmpty { continue }
            var result = ""
            var copied = current.startIndex
            for match in matches {
                guard let range = Range(match.range(at: rule.group), in: current), range.lowerBound >= copied else { continue }
                if let validate = rule.validate, !validate(String(current[range])) { continue }
                result += current[copied ..< range.lowerBound]
                result += rule.kind.placeholder
                copied = range.upperBound
                counts[rule.kind, default: 0] += 1
            }
            result += current[copied...]
            current = result
        }
        return (current, counts)
    }

    /// True for a valid IPv6 address that looks like one in text: two or more groups, and
    /// three or more or one of 3+ digits (not `1::2` from a slice, nor reST's `add::`).
    static func isIPv6(_ candidate: String) -> Bool {
        var address = in6_addr()
        guard inet_pton(AF_INET6, candidate, &address) == 1 else { return false }
        let groups = candidate.split(separator: ":")
        return groups.count >= 3 || (groups.count == 2 && groups.contains { $0.count >= 3 })
    }

    /// True for the shapes phone numbers are written in: a `+` country code (8–15 digits),
    /// an area code in parentheses, a national trunk prefix `0` (`030 1234 5678`: a 3–5 digit
    /// area code and groups of 3+ digits; or the French `01 23 45 67 89`), or the North
    /// American 3-3-4 with one separator. Dates, times, hex dumps and tables of numbers have
    /// none of these shapes.
    static func isPhone(_ candidate: String) -> Bool {
        let digits = candidate.filter { $0.isASCII && $0.isNumber }.count
        if candidate.hasPrefix("+") { return digits >= 8 && digits <= 15 }
        guard digits >= 9 && digits <= 15 else { return false }
        if candidate.hasPrefix("(") { return digits >= 10 }
        let groups = candidate.split(whereSeparator: { $0 == " " || $0 == "-" || $0 == "." })
        let lengths = groups.map(\.count)
        if let first = groups.first, first.hasPrefix("0"), !first.hasPrefix("00") {
            if (3 ... 5).contains(lengths[0]) && groups.count <= 4 && lengths.dropFirst().allSatisfy({ $0 >= 3 }) { return true }
            if lengths == [2, 2, 2, 2, 2] { return true }
        }
        let separators = Set(candidate.filter { $0 == " " || $0 == "-" || $0 == "." })
        return lengths == [3, 3, 4] && separators.count == 1
    }

    /// True for a segwit address with a valid bech32 (BIP-173) or bech32m (BIP-350) checksum.
    static func isBech32Address(_ address: String) -> Bool {
        guard address == address.lowercased() || address == address.uppercased() else { return false }
        let lower = Array(address.lowercased().utf8)
        guard let separator = lower.lastIndex(of: UInt8(ascii: "1")), separator >= 1, lower.count - separator - 1 >= 6 else { return false }
        let charset = Array("qpzry9x8gf2tvdw0s3jn54khce6mua7l".utf8)
        var values: [UInt32] = []
        for c in lower[..<separator] { values.append(UInt32(c >> 5)) }
        values.append(0)
        for c in lower[..<separator] { values.append(UInt32(c & 31)) }
        for c in lower[(separator + 1)...] {
            guard let v = charset.firstIndex(of: c) else { return false }
            values.append(UInt32(v))
        }
        let generator: [UInt32] = [0x3B6A_57B2, 0x2650_8E6D, 0x1EA1_19FA, 0x3D42_33DD, 0x2A14_62B3]
        var checksum: UInt32 = 1
        for v in values {
            let top = checksum >> 25
            checksum = (checksum & 0x1FF_FFFF) << 5 ^ v
            for i in 0 ..< 5 where (top >> UInt32(i)) & 1 == 1 { checksum ^= generator[i] }
        }
        return checksum == 1 || checksum == 0x2BC8_30A3
    }
}
