import LoomKernels
import LoomModels
import Logging

/// The diagnostics logger of the CLI (`-v/--verbose`): `debug` level when verbose, otherwise
/// `info`, where nothing is logged today, so the terminal output stays as it was. It writes
/// through swift-log's default handler, to standard error (standard output carries results).
enum LoadLog {
    static func logger(verbose: Bool) -> Logger {
        var logger = Logger(label: "loom")
        logger.logLevel = verbose ? .debug : .info
        return logger
    }

    /// Logs what was loaded: file, architecture and shape, threads, context and KV-cache size.
    static func model(_ model: LanguageModel, threads: Int, context: Int, to logger: Logger) {
        let c = model.config
        logger.debug("loaded \(model.path)")
        logger.debug("architecture \(c.architecture.name) (\(c.name)): \(c.layerCount) layers, embedding \(c.embeddingSize), \(c.headCount) heads (\(c.kvHeadCount) KV) of \(c.headDim), vocabulary \(c.vocabularySize)")
        if let plan = try? model.memoryEstimate(contextLength: context, weightBytes: model.weights.bytesPerToken) {
            logger.debug("""
                threads \(threads), context \(context) tokens (trained \(c.contextLength)), KV cache \(plan.kvCacheBytes) bytes \
                (\(plan.cacheTypes)), scratch \(plan.scratchBytes) bytes, of \(plan.availableBytes) bytes of memory
                """)
        }
    }
}
