import Foundation

// rnnkit-bench: RNNKit's training throughput on the PyTorch anchor's shapes.
// Options are read in Options.swift, shapes in Shapes.swift; each shape is
// measured in a child process (ChildProcess.swift, Measurement.swift) and
// reported by Report.swift.

let options: BenchOptions
do {
    options = try BenchOptions(parsing: Array(CommandLine.arguments.dropFirst()))
} catch {
    fail(error.description, status: 2)
}

if options.help {
    print(BenchOptions.usage)
    exit(0)
}
if options.child {
    ChildProcess.runAsChild(options)
}
if options.gemm {
    GEMMBench.run(options)
    exit(0)
}
if options.streaming {
    exit(StreamingBench.run(options))
}
if options.kernels {
    exit(Runs.kernels(options))
}
exit(options.scaling ? Runs.scaling(options) : Runs.shapes(options))
