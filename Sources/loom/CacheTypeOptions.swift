import ArgumentParser
import LoomKernels
import LoomModels

extension KVCacheType: ExpressibleByArgument {
    public init?(argument: String) { self.init(name: argument) }
    public static var allValueStrings: [String] { allCases.map(\.rawValue) }
}

/// The KV cache type flags every model-running command shares, named as llama.cpp's
/// (`common/arg.cpp`: `-ctk/--cache-type-k`, `-ctv/--cache-type-v`, default f16).
struct CacheTypeOptions: ParsableArguments {
    @Option(name: [.customLong("cache-type-k"), .customLong("ctk", withSingleDash: true)],
            help: "KV cache type for keys: \(KVCacheType.names) (default f16).")
    var keyType: KVCacheType = .f16

    @Option(name: [.customLong("cache-type-v"), .customLong("ctv", withSingleDash: true)],
            help: "KV cache type for values: \(KVCacheType.names) (default f16).")
    var valueType: KVCacheType = .f16

    var types: KVCacheTypes { KVCacheTypes(keys: keyType, values: valueType) }

    /// Makes sessions of `model` use these types, after checking that its heads hold them.
    func apply(to model: LanguageModel) throws {
        try types.check(headDim: model.config.headDim, path: model.path)
        model.cacheTypes = types
    }
}
