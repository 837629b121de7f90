import Foundation

/// A histogram of document lengths in words over power-of-two bins (1, 2–3, 4–7, …), which
/// suits lengths that span from one-line stubs to books; drawn as an SVG bar chart.
public struct LengthHistogram: Sendable, Equatable {
    /// Documents per bin; bin `k` holds lengths in `[2^k, 2^(k+1))`, bin 0 also holds 0.
    public private(set) var counts: [Int] = []
    /// Documents counted.
    public private(set) var total = 0

    /// An empty histogram.
    public init() {}

    /// Counts a document of `words` words.
    public mutating func add(words: Int) {
        let bin = words <= 1 ? 0 : (Int.bitWidth - 1 - words.leadingZeroBitCount)
        if counts.count <= bin { counts += [Int](repeating: 0, count: bin + 1 - counts.count) }
        counts[bin] += 1
        total += 1
    }

    /// The label of bin `k` ("4–7").
    public static func label(_ k: Int) -> String {
        if k == 0 { return "0–1" }
        let lo = 1 << k
        let hi = (1 << (k + 1)) - 1
        func short(_ v: Int) -> String { v >= 10_000 ? "\(v / 1000)k" : "\(v)" }
        return "\(short(lo))–\(short(hi))"
    }

    /// An SVG bar chart with a title, axis labels and counts.
    public func svg(title: String) -> String {
        let width = 720.0, height = 360.0, left = 60.0, right = 20.0, top = 40.0, bottom = 70.0
        let plotWidth = width - left - right, plotHeight = height - top - bottom
        let maximum = Double(max(1, counts.max() ?? 1))
        let bins = max(1, counts.count)
        let barWidth = plotWidth / Double(bins)
        func esc(_ s: String) -> String {
            s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
        }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"sans-serif\" font-size=\"11\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s += "<text x=\"\(f(width / 2))\" y=\"22\" text-anchor=\"middle\" font-size=\"14\">\(esc(title))</text>\n"
        s += "<line x1=\"\(f(left))\" y1=\"\(f(top + plotHeight))\" x2=\"\(f(left + plotWidth))\" y2=\"\(f(top + plotHeight))\" stroke=\"black\"/>\n"
        s += "<line x1=\"\(f(left))\" y1=\"\(f(top))\" x2=\"\(f(left))\" y2=\"\(f(top + plotHeight))\" stroke=\"black\"/>\n"
        for tick in 0 ... 4 {
            let value = maximum * Double(tick) / 4
            let y = top + plotHeight - plotHeight * Double(tick) / 4
            s += "<text x=\"\(f(left - 6))\" y=\"\(f(y + 4))\" text-anchor=\"end\">\(Int(value.rounded()))</text>\n"
        }
        for (k, count) in counts.enumerated() {
            let h = plotHeight * Double(count) / maximum
            let x = left + Double(k) * barWidth
            s += "<rect x=\"\(f(x + 2))\" y=\"\(f(top + plotHeight - h))\" width=\"\(f(max(1, barWidth - 4)))\" height=\"\(f(h))\" fill=\"#4a78b5\"><title>\(Self.label(k)) words: \(count)</title></rect>\n"
            let cx = x + barWidth / 2, ly = top + plotHeight + 12
            s += "<text x=\"\(f(cx))\" y=\"\(f(ly))\" text-anchor=\"end\" transform=\"rotate(-45 \(f(cx)) \(f(ly)))\">\(Self.label(k))</text>\n"
        }
        s += "<text x=\"\(f(left + plotWidth / 2))\" y=\"\(f(height - 6))\" text-anchor=\"middle\">words per document (\(total) documents)</text>\n"
        s += "<text x=\"14\" y=\"\(f(top + plotHeight / 2))\" text-anchor=\"middle\" transform=\"rotate(-90 14 \(f(top + plotHeight / 2)))\">documents</text>\n"
        s += "</svg>\n"
        return s
    }
}
