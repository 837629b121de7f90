import Foundation

/// Draws loss curves (training and evaluation loss against the step) as a self-contained SVG,
/// without any plotting library: axes with "nice" ticks (1, 2 or 5 × 10ⁿ), one polyline per
/// series, and a legend. Non-finite values (a NaN that stopped the run) are left out.
///
/// ```swift
/// let entries = try TrainingLogWriter.read(path: "out/train_log.jsonl")
/// try LossCurveSVG(entries: entries).write(to: "out/loss.svg")
/// ```
public struct LossCurveSVG: Sendable {
    /// One curve.
    public struct Series: Sendable, Equatable {
        public var name: String
        /// CSS colour.
        public var color: String
        /// (step, loss) in step order.
        public var points: [(step: Double, loss: Double)]

        public init(name: String, color: String, points: [(step: Double, loss: Double)]) {
            self.name = name
            self.color = color
            self.points = points
        }

        public static func == (a: Series, b: Series) -> Bool {
            a.name == b.name && a.color == b.color && a.points.elementsEqual(b.points) { $0.step == $1.step && $0.loss == $1.loss }
        }
    }

    public var series: [Series]
    public var title: String
    public var width = 800.0
    public var height = 450.0
    /// Plot area margins: left, right, top, bottom.
    let margin = (left: 70.0, right: 20.0, top: 40.0, bottom: 50.0)

    public init(series: [Series], title: String = "Loss") {
        self.series = series
        self.title = title
    }

    /// The training loss of every entry and the evaluation loss where one was logged.
    public init(entries: [TrainingLogEntry], title: String = "Loss") {
        var curves = [Series(name: "train loss", color: "#1f77b4", points: entries.map { (Double($0.step), $0.loss) })]
        let eval = entries.compactMap { entry in entry.evalLoss.map { (step: Double(entry.step), loss: $0) } }
        if !eval.isEmpty { curves.append(Series(name: "eval loss", color: "#d62728", points: eval)) }
        self.init(series: curves, title: title)
    }

    /// Ticks covering `low...high`: about `count` multiples of 1, 2 or 5 × 10ⁿ.
    static func ticks(_ low: Double, _ high: Double, count: Int = 5) -> [Double] {
        guard high > low else { return [low] }
        let rough = (high - low) / Double(max(1, count))
        let magnitude = pow(10, floor(log10(rough)))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= rough } ?? 10 * magnitude
        var values: [Double] = []
        var value = ceil(low / step - 1e-9) * step
        while value <= high + step * 1e-9 {
            values.append(abs(value) < step * 1e-9 ? 0 : value)
            value += step
        }
        return values
    }

    /// A tick label: integers plainly, others with up to 4 significant digits.
    static func label(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e9 { return String(Int(value)) }
        return String(format: "%.4g", value)
    }

    /// The SVG document.
    public var text: String {
        let finite = series.flatMap { $0.points.filter { $0.step.isFinite && $0.loss.isFinite } }
        let plotW = width - margin.left - margin.right, plotH = height - margin.top - margin.bottom
        var minX = finite.map(\.step).min() ?? 0, maxX = finite.map(\.step).max() ?? 1
        var minY = finite.map(\.loss).min() ?? 0, maxY = finite.map(\.loss).max() ?? 1
        if maxX <= minX { minX -= 1; maxX += 1 }
        if maxY <= minY { let pad = max(abs(minY) * 0.1, 0.5); minY -= pad; maxY += pad }
        let yPad = (maxY - minY) * 0.05
        minY -= yPad
        maxY += yPad
        func x(_ step: Double) -> Double { margin.left + (step - minX) / (maxX - minX) * plotW }
        func y(_ loss: Double) -> Double { margin.top + (maxY - loss) / (maxY - minY) * plotH }
        func f(_ v: Double) -> String { String(format: "%.2f", v) }

        var out = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(f(width))" height="\(f(height))" viewBox="0 0 \(f(width)) \(f(height))" font-family="sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(f(width / 2))" y="24" text-anchor="middle" font-size="16">\(Self.escape(title))</text>

            """
        for tick in Self.ticks(minX, maxX) {
            out += "<line x1=\"\(f(x(tick)))\" y1=\"\(f(margin.top))\" x2=\"\(f(x(tick)))\" y2=\"\(f(margin.top + plotH))\" stroke=\"#eee\"/>"
            out += "<text x=\"\(f(x(tick)))\" y=\"\(f(margin.top + plotH + 18))\" text-anchor=\"middle\">\(Self.label(tick))</text>\n"
        }
        for tick in Self.ticks(minY, maxY) {
            out += "<line x1=\"\(f(margin.left))\" y1=\"\(f(y(tick)))\" x2=\"\(f(margin.left + plotW))\" y2=\"\(f(y(tick)))\" stroke=\"#eee\"/>"
            out += "<text x=\"\(f(margin.left - 8))\" y=\"\(f(y(tick) + 4))\" text-anchor=\"end\">\(Self.label(tick))</text>\n"
        }
        out += "<rect x=\"\(f(margin.left))\" y=\"\(f(margin.top))\" width=\"\(f(plotW))\" height=\"\(f(plotH))\" fill=\"none\" stroke=\"#333\"/>\n"
        out += "<text x=\"\(f(margin.left + plotW / 2))\" y=\"\(f(height - 10))\" text-anchor=\"middle\">step</text>\n"
        out += "<text x=\"16\" y=\"\(f(margin.top + plotH / 2))\" text-anchor=\"middle\" transform=\"rotate(-90 16 \(f(margin.top + plotH / 2)))\">loss</text>\n"
        for (index, curve) in series.enumerated() {
            let points = curve.points.filter { $0.step.isFinite && $0.loss.isFinite }
            let color = Self.escape(curve.color)
            if points.count == 1 {
                out += "<circle cx=\"\(f(x(points[0].step)))\" cy=\"\(f(y(points[0].loss)))\" r=\"3\" fill=\"\(color)\"/>\n"
            } else if points.count > 1 {
                let list = points.map { "\(f(x($0.step))),\(f(y($0.loss)))" }.joined(separator: " ")
                out += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.5\" points=\"\(list)\"/>\n"
            }
            let legendY = margin.top + 16 + Double(index) * 16
            out += "<line x1=\"\(f(margin.left + plotW - 110))\" y1=\"\(f(legendY - 4))\" x2=\"\(f(margin.left + plotW - 90))\" y2=\"\(f(legendY - 4))\" stroke=\"\(color)\" stroke-width=\"2\"/>"
            out += "<text x=\"\(f(margin.left + plotW - 84))\" y=\"\(f(legendY))\">\(Self.escape(curve.name))</text>\n"
        }
        return out + "</svg>\n"
    }

    /// Writes the SVG atomically.
    /// - Throws: ``TrainingError/exportFailed(path:reason:)``.
    public func write(to path: String) throws {
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw TrainingError.exportFailed(path: path, reason: error.localizedDescription)
        }
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
