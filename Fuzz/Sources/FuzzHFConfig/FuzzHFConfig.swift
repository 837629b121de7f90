import Foundation
import FuzzSupport
import LoomFormats
import LoomModels

/// A Hugging Face `config.json` → `HFModelConfig` → `ModelConfig` (the plausibility checks
/// done before any tensor is bound), plus the RoPE frequency factors it implies.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHFConfig(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Data(bytes: data, count: size)
    guard let hf = FuzzLog.attempt("HFModelConfig", { try HFModelConfig(data: bytes) }) else { return 0 }
    if let config = FuzzLog.attempt("ModelConfig", { try ModelConfig(huggingFace: hf, path: "config.json") }) {
        _ = config.ropeYarn?.frequencyDivisors(base: config.ropeBase, dimensions: config.ropeDimensions)
    }
    _ = ModelConfig.ropeFrequencyFactors(for: hf)
    return 0
}

@_cdecl("FuzzHFConfig_main")
public func fuzzHFConfigMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    FuzzDriver.run(argc, argv, fuzzHFConfig)
}
