import Foundation

/// Renders a needle grid as an SVG heatmap like the familiar NIAH plots: context length on
/// the x axis, depth on the y axis (0 % at the top), cells from red (0) through yellow to
/// green (1), the score printed in each cell.
public enum NeedleHeatmap {
    public static func svg(_ report: NeedleReport, title: String? = nil) -> String {
        let cellW = 64.0, cellH = 36.0, left = 90.0, top = 50.0
        let width = left + cellW * Double(report.lengths.count) + 110
        let height = top + cellH * Double(report.depths.count) + 70
        var s = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" font-family="Helvetica, Arial, sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(Int(width / 2))" y="24" text-anchor="middle" font-size="15" font-weight="bold">\(escape(title ?? "Needle in a haystack: \(report.model)"))</text>

        """
        for (row, depth) in report.depths.enumerated() {
            let y = top + Double(row) * cellH
            s += "<text x=\"\(Int(left - 8))\" y=\"\(Int(y + cellH / 2 + 4))\" text-anchor=\"end\">\(Int((depth * 100).rounded()))%</text>\n"
            for (col, length) in report.lengths.enumerated() {
                let x = left + Double(col) * cellW
                let score = report.cells.first { $0.length == length && $0.depth == depth }?.score ?? .nan
                s += "<rect x=\"\(Int(x))\" y=\"\(Int(y))\" width=\"\(Int(cellW))\" height=\"\(Int(cellH))\" fill=\"\(color(score))\" stroke=\"white\"/>\n"
                s += "<text x=\"\(Int(x + cellW / 2))\" y=\"\(Int(y + cellH / 2 + 4))\" text-anchor=\"middle\">\(score.isNaN ? "–" : String(format: "%.2f", score))</text>\n"
            }
        }
        let bottom = top + Double(report.depths.count) * cellH
        for (col, length) in report.lengths.enumerated() {
            let label = length >= 1024 && length % 1024 == 0 ? "\(length / 1024)k" : "\(length)"
            s += "<text x=\"\(Int(left + (Double(col) + 0.5) * cellW))\" y=\"\(Int(bottom + 18))\" text-anchor=\"middle\">\(label)</text>\n"
        }
        s += "<text x=\"\(Int(left + cellW * Double(report.lengths.count) / 2))\" y=\"\(Int(bottom + 44))\" text-anchor=\"middle\">Context length (tokens)</text>\n"
        s += "<text x=\"20\" y=\"\(Int(top + cellH * Double(report.depths.count) / 2))\" text-anchor=\"middle\" transform=\"rotate(-90 20 \(Int(top + cellH * Double(report.depths.count) / 2)))\">Needle depth</text>\n"
        // Colour legend.
        let legendX = left + cellW * Double(report.lengths.count) + 30
        for i in 0..<10 {
            let v = 1 - Double(i) / 9
            s += "<rect x=\"\(Int(legendX))\" y=\"\(Int(top + Double(i) * 16))\" width=\"18\" height=\"16\" fill=\"\(color(v))\"/>\n"
        }
        s += "<text x=\"\(Int(legendX + 24))\" y=\"\(Int(top + 12))\">1.0</text>\n"
        s += "<text x=\"\(Int(legendX + 24))\" y=\"\(Int(top + 156))\">0.0</text>\n"
        return s + "</svg>\n"
    }

    /// Red → yellow → green.
    static func color(_ score: Double) -> String {
        guard score.isFinite else { return "#dddddd" }
        let v = min(max(score, 0), 1)
        let r = v < 0.5 ? 230.0 : 230 - (v - 0.5) * 2 * 150
        let g = v < 0.5 ? 80 + v * 2 * 130 : 210.0
        let b = 80.0
        return String(format: "#%02x%02x%02x", Int(r), Int(g), Int(b))
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }

    /// One CSV row per trial: length, depth, sample, prompt_tokens, needle, correct, answer.
    public static func csv(_ report: NeedleReport) -> String {
        var out = "model,length,depth,sample,prompt_tokens,needle,correct,answer\n"
        for t in report.trials {
            let answer = "\"" + t.answer.replacingOccurrences(of: "\"", with: "\"\"") + "\""
            out += "\(report.model),\(t.length),\(t.depth),\(t.sample),\(t.promptTokens),\(t.needle),\(t.correct ? 1 : 0),\(answer)\n"
        }
        return out
    }
}
