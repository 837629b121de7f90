/// A GitHub-flavoured Markdown table (the reports' human-readable form).
public struct MarkdownTable: Sendable {
    public var headers: [String]
    public var rows: [[String]] = []

    public init(headers: [String]) { self.headers = headers }

    public mutating func add(_ row: [String]) { rows.append(row) }

    public var text: String {
        func line(_ cells: [String]) -> String {
            "| " + cells.map { $0.replacingOccurrences(of: "|", with: "\\|") }.joined(separator: " | ") + " |"
        }
        return ([line(headers), "|" + headers.map { _ in "---" }.joined(separator: "|") + "|"] + rows.map(line))
            .joined(separator: "\n") + "\n"
    }
}
