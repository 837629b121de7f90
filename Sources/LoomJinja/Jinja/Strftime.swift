import Foundation

/// C `strftime` (glibc, C locale) for the directives chat templates use, e.g. Llama 3.2's
/// `strftime_now("%d %b %Y")`. `%-d` style (no padding) is supported as glibc does.
enum Strftime {
    private static let days = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
    private static let months = ["January", "February", "March", "April", "May", "June", "July", "August",
                                 "September", "October", "November", "December"]

    /// Throws a `RuntimeFailure` rather than build more than `limit` bytes.
    static func format(_ format: String, date: Date, timeZone: TimeZone, limit: Int = .max) throws -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .weekday], from: date)
        let year = c.year!, month = c.month!, day = c.day!, hour = c.hour!, minute = c.minute!, second = c.second!
        let weekday = c.weekday! - 1
        let dayOfYear = calendar.ordinality(of: .day, in: .year, for: date) ?? 1
        func pad(_ n: Int, _ width: Int, _ noPad: Bool, _ fill: Character = "0") -> String {
            let s = String(n)
            if noPad || s.count >= width { return s }
            return String(repeating: fill, count: width - s.count) + s
        }
        var out = ""
        // Walk the scalars in place: materialising a huge format as an array of Characters
        // would cost 16 bytes per character before the output limit is ever checked.
        let scalars = format.unicodeScalars
        var i = scalars.startIndex
        while i < scalars.endIndex {
            if out.utf8.count > limit { throw RuntimeFailure("string result larger than \(limit) bytes (the template string limit)") }
            let ch = scalars[i]
            i = scalars.index(after: i)
            guard ch == "%", i < scalars.endIndex else { out.unicodeScalars.append(ch); continue }
            var noPad = false
            if scalars[i] == "-" && scalars.index(after: i) < scalars.endIndex { noPad = true; i = scalars.index(after: i) }
            let d = Character(scalars[i])
            i = scalars.index(after: i)
            switch d {
            case "d": out += pad(day, 2, noPad)
            case "e": out += pad(day, 2, noPad, " ")
            case "m": out += pad(month, 2, noPad)
            case "Y": out += String(year)
            case "y": out += pad(year % 100, 2, noPad)
            case "H": out += pad(hour, 2, noPad)
            case "I": out += pad(hour % 12 == 0 ? 12 : hour % 12, 2, noPad)
            case "M": out += pad(minute, 2, noPad)
            case "S": out += pad(second, 2, noPad)
            case "p": out += hour < 12 ? "AM" : "PM"
            case "j": out += pad(dayOfYear, 3, noPad)
            case "a": out += String(days[weekday].prefix(3))
            case "A": out += days[weekday]
            case "b", "h": out += String(months[month - 1].prefix(3))
            case "B": out += months[month - 1]
            case "w": out += String(weekday)
            case "u": out += String(weekday == 0 ? 7 : weekday)
            case "F": out += "\(year)-\(pad(month, 2, false))-\(pad(day, 2, false))"
            case "D": out += "\(pad(month, 2, false))/\(pad(day, 2, false))/\(pad(year % 100, 2, false))"
            case "T": out += "\(pad(hour, 2, false)):\(pad(minute, 2, false)):\(pad(second, 2, false))"
            case "R": out += "\(pad(hour, 2, false)):\(pad(minute, 2, false))"
            case "n": out += "\n"
            case "t": out += "\t"
            case "%": out += "%"
            default:
                throw RuntimeFailure("unsupported strftime directive '%\(d)'")
            }
        }
        return out
    }
}
