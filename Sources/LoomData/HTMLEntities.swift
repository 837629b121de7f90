/// Decodes HTML character references: numeric (`&#233;`, `&#xE9;`) and the named ones common
/// in real pages (the WHATWG list has 2,231; these are the ones documentation and news pages
/// use). An unknown or malformed reference stays as written, as browsers do.
public enum HTMLEntities {
    /// Named references without the `&` and `;`.
    public static let named: [String: String] = [
        "amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'", "nbsp": "\u{A0}",
        "copy": "©", "reg": "®", "trade": "™", "hellip": "…", "mdash": "—", "ndash": "–",
        "lsquo": "‘", "rsquo": "’", "sbquo": "‚", "ldquo": "“", "rdquo": "”", "bdquo": "„",
        "laquo": "«", "raquo": "»", "lsaquo": "‹", "rsaquo": "›", "bull": "•", "middot": "·",
        "deg": "°", "times": "×", "divide": "÷", "para": "¶", "sect": "§", "euro": "€",
        "pound": "£", "yen": "¥", "cent": "¢", "shy": "\u{AD}", "ensp": "\u{2002}", "emsp": "\u{2003}",
        "thinsp": "\u{2009}", "zwj": "\u{200D}", "zwnj": "\u{200C}", "larr": "←", "rarr": "→",
        "uarr": "↑", "darr": "↓", "harr": "↔", "rArr": "⇒", "lArr": "⇐", "hArr": "⇔", "le": "≤", "ge": "≥",
        "ne": "≠", "plusmn": "±", "minus": "−", "infin": "∞", "micro": "µ", "frac12": "½", "frac14": "¼",
        "frac34": "¾", "sup2": "²", "sup3": "³", "iexcl": "¡", "iquest": "¿", "dagger": "†", "Dagger": "‡",
        "prime": "′", "Prime": "″", "check": "✓", "star": "☆", "larrhk": "↩", "crarr": "↵",
        "aacute": "á", "Aacute": "Á", "agrave": "à", "Agrave": "À", "acirc": "â", "Acirc": "Â", "auml": "ä", "Auml": "Ä",
        "atilde": "ã", "aring": "å", "Aring": "Å", "aelig": "æ", "AElig": "Æ", "ccedil": "ç", "Ccedil": "Ç",
        "eacute": "é", "Eacute": "É", "egrave": "è", "Egrave": "È", "ecirc": "ê", "euml": "ë", "iacute": "í",
        "igrave": "ì", "icirc": "î", "iuml": "ï", "ntilde": "ñ", "Ntilde": "Ñ", "oacute": "ó", "Oacute": "Ó",
        "ograve": "ò", "ocirc": "ô", "ouml": "ö", "Ouml": "Ö", "otilde": "õ", "oslash": "ø", "Oslash": "Ø",
        "uacute": "ú", "ugrave": "ù", "ucirc": "û", "uuml": "ü", "Uuml": "Ü", "yacute": "ý", "yuml": "ÿ",
        "szlig": "ß", "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "lambda": "λ",
        "mu": "μ", "pi": "π", "sigma": "σ", "omega": "ω", "Omega": "Ω", "Delta": "Δ", "Sigma": "Σ",
    ]

    /// The text of `bytes` (UTF-8) with character references decoded.
    public static func decode<S: Collection>(_ bytes: S) -> String where S.Element == UInt8, S.Index == Int {
        guard bytes.contains(UInt8(ascii: "&")) else { return String(decoding: bytes, as: UTF8.self) }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = bytes.startIndex
        let end = bytes.endIndex
        while i < end {
            let b = bytes[i]
            guard b == UInt8(ascii: "&") else { out.append(b); i += 1; continue }
            // A reference is at most 32 bytes up to its ';'.
            var j = i + 1
            while j < end && j - i < 33 && bytes[j] != UInt8(ascii: ";") && bytes[j] != UInt8(ascii: "&")
                && bytes[j] != 0x20 && bytes[j] != UInt8(ascii: "<") { j += 1 }
            if j < end && bytes[j] == UInt8(ascii: ";"), let scalarText = reference(String(decoding: bytes[(i + 1) ..< j], as: UTF8.self)) {
                out.append(contentsOf: scalarText.utf8)
                i = j + 1
            } else {
                out.append(b)
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The text of one reference body (`amp`, `#233`, `#xE9`), or nil if it is not one.
    static func reference(_ body: String) -> String? {
        if body.hasPrefix("#") {
            let digits = body.dropFirst()
            let value: UInt32?
            if digits.first == "x" || digits.first == "X" { value = UInt32(digits.dropFirst(), radix: 16) }
            else { value = UInt32(digits, radix: 10) }
            guard let v = value else { return nil }
            // NUL, surrogates and out-of-range code points become U+FFFD, as in the HTML spec.
            guard v != 0, let scalar = Unicode.Scalar(v) else { return "\u{FFFD}" }
            return String(Character(scalar))
        }
        return named[body]
    }
}
