import ArgumentParser
import Foundation
import LoomData

/// `loom data`: the corpus pipeline, from a folder of documents to a clean, deduplicated,
/// scrubbed JSONL training set with a report.
struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Turn a folder of documents into a clean, deduplicated JSONL corpus.",
        discussion: """
        Each stage reads and writes JSONL records {"id", "source", "text", …}, one document a line, \
        streaming with bounded memory; each writes its output atomically with a statistics sidecar \
        OUT.stats.json that `loom data report` gathers. A typical run:
          loom data ingest docs/ -o docs.jsonl
          loom data clean docs.jsonl -o clean.jsonl
          loom data dedup clean.jsonl -o dedup.jsonl
          loom data scrub dedup.jsonl -o corpus.jsonl
          loom data report docs.jsonl clean.jsonl dedup.jsonl corpus.jsonl -o report/
          loom data chunk corpus.jsonl -o chunks.jsonl --max-tokens 512 --overlap 64
          loom data format chunks.jsonl -o dataset/ --val-split 0.05 --clusters dedup.jsonl.clusters.jsonl
          loom finetune --dataset-info dataset/ --dataset loom_data …
        or all of it from a YAML recipe: loom data run recipes/python-docs.yaml --var DOCS=…
        """,
        subcommands: [DataIngestCommand.self, DataCleanCommand.self, DataDedupCommand.self, DataScrubCommand.self, DataChunkCommand.self,
                      DataFormatCommand.self, DataReportCommand.self, DataRunCommand.self])
}

/// Shows per-batch progress of the stages on standard error when it is a terminal.
func enableDataProgress() {
    RecordStream.showsProgress = isatty(STDERR_FILENO) == 1
}

/// Prints a stage's one-line summary (standard output) and its first problems (standard error).
func printStageSummary(_ stats: StageStats, detail: String = "") {
    var line = "\(stats.stage): \(stats.documentsIn) documents in, \(stats.documentsOut) out"
    if !detail.isEmpty { line += ", " + detail }
    line += String(format: " (%.1f s) → ", stats.seconds) + stats.output
    StandardOutput.write(line + "\n")
    if stats.errorCount > 0 {
        for e in stats.errors.prefix(5) { StandardError.print("warning: \(e.source): \(e.message)") }
        StandardError.print("\(stats.errorCount) problem(s) in all; see \(StageStats.sidecarPath(for: stats.output))")
    }
}

/// Refuses an output that would overwrite an input.
func checkDistinct(input: String, output: String) throws {
    if URL(fileURLWithPath: input).standardizedFileURL.path == URL(fileURLWithPath: output).standardizedFileURL.path {
        throw ValidationError("the output \(output) is the input; write to another file")
    }
}

/// The named counters of a stage as "name n, name n".
func describeCounters(_ stats: StageStats, prefix: String = "", excluding: Set<String> = []) -> String {
    stats.counters.keys.sorted().filter { $0.hasPrefix(prefix) && !excluding.contains($0) }
        .map { "\($0) \(stats.counters[$0]!)" }.joined(separator: ", ")
}
