import Foundation

/// Draws `FetchProgress` events on standard error (the `.terminal` reporter).
///
/// Standard error keeps progress out of a command's real output on stdout. Events may come
/// from the pip-reading loop and from the caller's thread, so drawing is serialised by a lock.
final class TerminalProgressRenderer: @unchecked Sendable {
    private let lock = NSLock()
    private let isTTY: Bool
    /// True while a redrawable progress line (ending in no newline) is on screen.
    private var lineOpen = false
    private var lastLabel = ""
    private var lastQuarter = 0
    private var lastDraw = Date.distantPast
    /// When the current label's first event came, and its byte count then (for speed/ETA).
    private var labelStart = Date()
    private var labelStartBytes: Int64 = 0
    private let output: (String) -> Void

    /// `output` receives the text to show; by default it goes to standard error.
    init(isTTY: Bool = isatty(2) != 0, output: @escaping (String) -> Void = TerminalProgressRenderer.standardError) {
        self.isTTY = isTTY
        self.output = output
    }

    static func standardError(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }

    func render(_ event: FetchProgress.Event) {
        lock.lock()
        defer { lock.unlock() }
        switch event {
        case let .phase(text):
            closeLine()
            write(text + "\n")
        case let .toolOutput(line):
            closeLine()
            write("  pip: " + line + "\n")
        case let .bytes(label, completed, total):
            drawBytes(label: label, completed: completed, total: total)
        }
    }

    private func drawBytes(label: String, completed: Int64, total: Int64?) {
        if label != lastLabel {
            closeLine()
            lastLabel = label
            lastQuarter = 0
            lastDraw = .distantPast
            labelStart = Date()
            labelStartBytes = completed
        }
        let done = total.map { completed >= $0 } ?? false
        var text = "  \(label): \(TerminalProgressRenderer.megabytes(completed))"
        if let total, total > 0 {
            let percent = Int(min(100, completed * 100 / total))
            text += " / \(TerminalProgressRenderer.megabytes(total)) (\(percent)%)"
        }
        text += TerminalProgressRenderer.rate(bytes: completed - labelStartBytes, seconds: Date().timeIntervalSince(labelStart),
                                              remaining: total.map { $0 - completed })
        if isTTY {
            // Redraw at most ~10 times a second, but always draw the final state.
            let now = Date()
            guard done || now.timeIntervalSince(lastDraw) >= 0.1 else { return }
            lastDraw = now
            write("\r" + text + "\u{1B}[K")
            lineOpen = true
            if done { closeLine() }
        } else {
            // One line per quarter reached (or per 100 MB when the total is unknown); the
            // step just started (quarter 0) is already announced by a phase or pip line.
            let quarter: Int
            if let total, total > 0 {
                quarter = Int(min(4, completed * 4 / total))
            } else {
                quarter = Int(completed / 100_000_000)
            }
            guard quarter > lastQuarter else { return }
            lastQuarter = quarter
            write(text + "\n")
        }
    }

    private func closeLine() {
        if lineOpen {
            write("\n")
            lineOpen = false
        }
    }

    private func write(_ text: String) {
        output(text)
    }

    /// ", 12.3 MB/s, ETA 0:42" once half a second has passed (before that a rate is noise);
    /// the ETA only while bytes remain.
    static func rate(bytes: Int64, seconds: Double, remaining: Int64?) -> String {
        guard seconds >= 0.5, bytes > 0 else { return "" }
        let perSecond = Double(bytes) / seconds
        var text = ", \(megabytes(Int64(perSecond)))/s"
        if let remaining, remaining > 0 {
            let eta = Int((Double(remaining) / perSecond).rounded(.up))
            text += eta >= 3600
                ? String(format: ", ETA %d:%02d:%02d", eta / 3600, eta / 60 % 60, eta % 60)
                : String(format: ", ETA %d:%02d", eta / 60, eta % 60)
        }
        return text
    }

    /// "98.4 MB", "9.1 MB", "512 kB": enough precision to see progress move.
    static func megabytes(_ bytes: Int64) -> String {
        if bytes < 1_000_000 { return "\(bytes / 1000) kB" }
        let tenths = bytes / 100_000
        return "\(tenths / 10).\(tenths % 10) MB"
    }
}
