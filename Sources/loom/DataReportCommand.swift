import ArgumentParser
import LoomData

/// `loom data report`: the stages' statistics as JSON + Markdown with a length histogram.
struct DataReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Gather the stages' statistics into report.json, report.md and length_histogram.svg.",
        discussion: "Give the stage outputs in pipeline order; the histogram is of the last one.")

    @Argument(help: "JSONL files written by loom data stages (each with its OUT.stats.json).") var files: [String]
    @Option(name: .shortAndLong, help: "The folder to write the report into.") var output: String

    func run() throws {
        let report = try CorpusReport(files: files)
        try report.write(to: output)
        StandardOutput.write("report: \(report.stages.count) stages, \(report.histogram.total) documents in the last → \(output)/report.md\n")
    }
}
