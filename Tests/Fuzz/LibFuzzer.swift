import Foundation

/// The reader that `fuzzOneInput` feeds, chosen once by `main` before any input.
nonisolated(unsafe) var selectedReader = Reader.text

/// libFuzzer's entry point for one input. Also exported under libFuzzer's
/// default name, because its archive's unused `main` refers to that name.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    selectedReader.read(size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

#if FUZZING
    /// libFuzzer's driver, for programs that have their own `main`.
    @_silgen_name("LLVMFuzzerRunDriver")
    private func LLVMFuzzerRunDriver(
        _ argc: UnsafeMutablePointer<Int32>,
        _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
        _ testOneInput: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
    ) -> Int32

    /// Runs libFuzzer on the arguments after the reader's name.
    ///
    /// SwiftPM links an executable with `main` defined as main.swift's entry
    /// point, so libFuzzer's own `main` never runs; this is its replacement.
    func runFuzzer() -> Never {
        let argv = CommandLine.unsafeArgv
        argv[1] = argv[0]
        var argc = CommandLine.argc - 1
        var arguments = argv + 1
        exit(LLVMFuzzerRunDriver(&argc, &arguments, fuzzOneInput))
    }
#endif
