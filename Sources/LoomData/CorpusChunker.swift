import Foundation
import LoomJinja

/// `loom data chunk`: every document to windows of at most `maxTokens` tokens with overlap
/// (see `TextChunker`). A chunk's id is its document's id and its index (`ID-c0`, `ID-c1`, …);
/// `parent_id`, `chunk_index` and `tokens` are added, so `format` can keep a document's
/// chunks on one side of the train/validation split.
public struct CorpusChunker {
    /// The splitter.
    public var chunker: TextChunker
    /// Continue from the checkpoint of an interrupted run (see `ResumableOutput`).
    public var resume = false

    /// A chunker stage.
    public init(chunker: TextChunker) { self.chunker = chunker }

    /// Chunks `input` into `output` (atomically, with its statistics sidecar).
    public func run(input: String, output: String) throws -> StageStats {
        let started = Date()
        var stats = StageStats(stage: "chunk", inputs: [input], output: output)
        let writer = try ResumableOutput(path: output, input: input, resume: resume, stats: &stats)
        try RecordStream.forEachBatch(path: input, startLine: writer.resumeLine, stats: &stats, afterBatch: writer.checkpoint) { batch, stats in
            let results = RecordStream.parallelMap(batch) { chunker.chunks($0.text) }
            var buffer: [UInt8] = []
            for (record, chunks) in zip(batch, results) {
                if chunks.isEmpty { stats.count("empty_documents"); continue }
                if chunks.count > 1 { stats.count("documents_split") }
                for (k, chunk) in chunks.enumerated() {
                    var extra = record.extra
                    extra["parent_id"] = .string(record.id)
                    extra["chunk_index"] = .integer(k)
                    extra["tokens"] = .integer(chunk.tokens)
                    let piece = DataRecord(id: chunks.count == 1 ? record.id : "\(record.id)-c\(k)", source: record.source, text: chunk.text, extra: extra)
                    stats.count("tokens", chunk.tokens)
                    stats.wrote(piece)
                    piece.writeJSONLine(into: &buffer)
                }
            }
            try writer.write(buffer)
        }
        try writer.commit()
        stats.details["max_tokens"] = .integer(chunker.maxTokens)
        stats.details["overlap"] = .integer(chunker.overlap)
        stats.seconds = Date().timeIntervalSince(started)
        try stats.writeSidecar()
        return stats
    }
}
