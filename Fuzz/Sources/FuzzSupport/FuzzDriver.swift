#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The libFuzzer callback: one input, its length; returns 0 (or -1 to keep it out of the corpus).
public typealias FuzzCallback = @convention(c) (UnsafePointer<UInt8>, Int) -> Int32

/// libFuzzer's public driver entry point (compiler-rt `FuzzerInterface.h`,
/// https://llvm.org/docs/LibFuzzer.html#using-libfuzzer-as-a-library).
@_silgen_name("LLVMFuzzerRunDriver")
private func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: FuzzCallback) -> Int32

/// Starts libFuzzer from a harness's entry point.
///
/// Why harnesses need this: on Linux SwiftPM links every executable target with
/// `--defsym main=<Module>_main` (so that tests can import executables), which replaces the
/// `main` that `-sanitize=fuzzer` brings from libFuzzer. Each harness therefore exports
/// `<Module>_main` itself and hands over to libFuzzer's driver here. Where SwiftPM does not
/// rename `main`, libFuzzer's own `main` runs and calls `LLVMFuzzerTestOneInput` directly.
public enum FuzzDriver {
    public static func run(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                           _ callback: FuzzCallback) -> Int32 {
        var count = argc
        var arguments = argv
        return LLVMFuzzerRunDriver(&count, &arguments, callback)
    }
}
