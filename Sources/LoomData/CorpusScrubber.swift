import Foundation

/// `loom data scrub`: replaces personal data and secrets in every record's text with typed
/// placeholders (see `PIIScrubber`), streaming and on all cores, counting each kind.
public struct CorpusScrubber {
    /// The replacer.
    public var scrubber = PIIScrubber()
    /// Continue from the checkpoint of an interrupted run (see `ResumableOutput`).
    public var resume = false

    /// A scrubber for every kind.
    public init() {}

    /// Scrubs `input` into `output` (atomically, with its statistics sidecar).
    public func run(input: String, output: String) throws -> StageStats {
        let started = Date()
        var stats = StageStats(stage: "scrub", inputs: [input], output: output)
        let writer = try ResumableOutput(path: output, input: input, resume: resume, stats: &stats)
        try RecordStream.forEachBatch(path: input, startLine: writer.resumeLine, stats: &stats, afterBatch: writer.checkpoint) { batch, stats in
            let results = RecordStream.parallelMap(batch) { record -> (DataRecord, [PIIScrubber.Kind: Int]) in
                var record = record
                let (text, counts) = scrubber.scrub(record.text)
                record.text = text
                return (record, counts)
            }
            var buffer: [UInt8] = []
            for (_, counts) in results {
                for (kind, n) in counts { stats.count("pii_" + kind.rawValue, n) }
                if !counts.isEmpty { stats.count("documents_with_pii") }
            }
            RecordStream.encode(results.map(\.0), into: &buffer, stats: &stats)
            try writer.write(buffer)
        }
        try writer.commit()
        stats.seconds = Date().timeIntervalSince(started)
        try stats.writeSidecar()
        return stats
    }
}
