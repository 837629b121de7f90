import ArgumentParser
import LoomData

/// `loom data scrub`: personal data and secrets to typed placeholders.
struct DataScrubCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scrub",
        abstract: "Replace emails, phone numbers, IP addresses, BTC/ETH addresses and API keys with placeholders.",
        discussion: "Placeholders: <EMAIL>, <PHONE>, <IP_ADDRESS>, <BTC_ADDRESS>, <ETH_ADDRESS>, <SECRET>; counts per kind go to OUT.stats.json.")

    @Argument(help: "The JSONL file to read.") var input: String
    @Option(name: .shortAndLong, help: "The JSONL file to write.") var output: String
    @Flag(help: "Continue an interrupted run from OUT.checkpoint.json: no output line lost or repeated.") var resume = false

    func run() throws {
        enableDataProgress()
        try checkDistinct(input: input, output: output)
        var scrubber = CorpusScrubber()
        scrubber.resume = resume
        let stats = try scrubber.run(input: input, output: output)
        let found = describeCounters(stats, prefix: "pii_")
        printStageSummary(stats, detail: found.isEmpty ? "no personal data found" : found)
    }
}
