import ArgumentParser
import Foundation
import LoomData

/// `loom data ingest`: files and folders of documents to JSONL records.
struct DataIngestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Read .txt, .md, .html, .json, .jsonl, .csv and .pdf files (folders recursively) into JSONL.",
        discussion: """
        HTML pages keep their main text (no scripts, styles, navigation, headers, footers or sidebars). \
        PDF files need pdftotext (apt-get install poppler-utils). Binary, unreadable or oversized files \
        are skipped and listed in OUT.stats.json; invalid UTF-8 is repaired and counted.
        """)

    @Argument(help: "Files or folders to read.") var paths: [String]
    @Option(name: .shortAndLong, help: "The JSONL file to write.") var output: String
    @Option(help: "The field of .json/.jsonl objects, or the .csv column, holding the text.") var field = "text"
    @Option(help: "Skip files larger than this many bytes (streamed .jsonl/.csv: longer lines or rows).") var maxFileBytes = 64 << 20
    @Flag(help: "Continue an interrupted run from OUT.checkpoint.json: no output line lost or repeated.") var resume = false

    func run() throws {
        guard maxFileBytes > 0 else { throw ValidationError("--max-file-bytes must be positive") }
        var options = DocumentIngester.Options()
        options.field = field
        options.maxFileBytes = maxFileBytes
        let progress = isatty(STDERR_FILENO) == 1
        var ingester = DocumentIngester(options: options)
        ingester.resume = resume
        let stats = try ingester.run(paths: paths, output: output) { done, total in
            if progress { FileHandle.standardError.write(Data("\rfiles \(done)/\(total)".utf8)) }
        }
        if progress { FileHandle.standardError.write(Data("\r".utf8)) }
        printStageSummary(stats, detail: "\(stats.counters["files_found"] ?? 0) files")
        if stats.documentsOut == 0 { StandardError.print("warning: no documents were ingested") }
    }
}
