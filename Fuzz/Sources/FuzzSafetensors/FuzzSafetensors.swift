import FuzzSupport
import LoomFormats

/// A safetensors file from arbitrary bytes: the 8-byte header length, the JSON header, every
/// tensor's dtype, shape and data range. What the header accepts must be readable in full.
private let scratch = ScratchFile(name: "model.safetensors")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafetensors(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    scratch.replace(with: UnsafeRawBufferPointer(start: data, count: size))
    guard let file = FuzzLog.attempt("SafetensorsFile", { try SafetensorsFile(path: scratch.path) }) else { return 0 }
    for info in file.tensors {
        fuzzCheck(file.tensor(named: info.name) != nil, "tensor \(info.name) listed but not found by name")
        // Widening to Float reads every element: ASan or a fault shows a range past the data.
        _ = FuzzLog.attempt("floats(\(info.name))") { try file.floats(info) }
    }
    return 0
}

@_cdecl("FuzzSafetensors_main")
public func fuzzSafetensorsMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    FuzzDriver.run(argc, argv, fuzzSafetensors)
}
