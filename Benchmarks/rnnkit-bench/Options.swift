import CommandLineOptions
import Foundation

/// What the command line asked for.
struct BenchOptions {
    /// The shapes given with `--shape`; empty means the default set.
    var shapes: [BenchShape] = []
    var threads = ProcessInfo.processInfo.activeProcessorCount
    /// Seconds of timed steps per shape and per phase (training, inference).
    var minTime = 2.0
    /// Seconds per FMA peak measurement; 0 skips it.
    var peakTime = 1.0
    var json = false
    var inference = true
    var scaling = false
    var gemm = false
    var kernels = false
    var streaming = false
    /// MPI processes per measurement, each with `threads` threads.
    var ranks = 1
    var help = false
    /// Internal: measure the one given shape in this process and print one
    /// JSON line (the parent runs each shape in a child like this).
    var child = false

    static let usage = """
        USAGE: rnnkit-bench [--shape CELL:BATCH:SEQ:INPUT:HIDDEN:LAYERS[:DROPOUT] ...] [--threads N]
                            [--min-time SECONDS] [--peak-time SECONDS] [--json]
                            [--inference | --no-inference] [--scaling] [--gemm] [--kernels]
                            [--streaming]

        Measures RNNKit's training-step throughput on the PyTorch anchor's workload
        (../shared/anchors/pytorch_rnn_bench.py): many-to-many, dense random inputs
        [B,T,I], MSE against random targets, backpropagation through time, SGD lr 1e-3.
        The models have no head (OutputHead.identity), so the loss is on the top
        layer's output as in the anchor. GFLOP/s = 3 x sum over layers
        2*B*T*G*H*(in+H), G = 1/4/3 for RNN/LSTM/GRU (4 for lstm_ln, its norms not
        counted), the anchor's count. Each shape runs in a child process, which
        reports its own peak resident memory.

        OPTIONS:
          --shape SPEC        CELL:BATCH:SEQ:INPUT:HIDDEN:LAYERS[:DROPOUT], CELL one of
                              rnn (= rnn_tanh), rnn_tanh, rnn_relu, lstm, gru,
                              lstm_ln (the layer-normalised LSTM); DROPOUT
                              between the layers, in [0, 1) (default 0).
                              Repeatable; when given, only these shapes run.
                              Default: rnn/lstm/gru small (64:50:32:64:1),
                              lstm/gru/rnn medium (64:100:128:256:1),
                              lstm large (128:50:512:512:1), lstm two-layer (64:100:128:256:2).
          --threads N         Worker threads (default: all \(ProcessInfo.processInfo.activeProcessorCount) cores).
          --min-time SECONDS  Timed seconds per shape and phase, after 3 warm-up steps;
                              at least 3 timed steps run (default 2).
          --peak-time SECONDS Seconds per FMA peak measurement (default 1; 0 skips it).
          --json              One JSON object per shape (or per shape and thread count
                              with --scaling) instead of the table.
          --inference         Also time forward-only inference with a reused Predictor (default).
          --no-inference      Time training steps only.
          --scaling           Run the shapes (default: lstm medium, large, small) at
                              1...N threads; print speedup and parallel efficiency next
                              to the FMA peak's own speedup at the same thread count.
          --gemm              Time the single-threaded GEMM on large and RNN-shaped
                              problems against the FMA peak, instead of training;
                              then, where the kernels have fused steps, one LSTM
                              timestep of 32 rows (H = 64, 128, 256) as the recurrent
                              multiply plus the cell kernel and as the fused step.
          --ranks N           Run each shape as N MPI processes on this machine
                              (mpirun -np N --oversubscribe), each with --threads
                              threads, sharing every step of the shape's batch; reports
                              the bytes rank 0 receives per step. Needs a build with
                              the MPI trait (swift build -c release --traits MPI).
          --kernels           Compare kernel variants on training steps: for each
                              hidden size with generated kernels (or each --shape),
                              the specialized kernels against the generic ones
                              (RNNKIT_KERNELS=generic), and every instruction set
                              this CPU runs (RNNKIT_ISA). Default shapes: lstm, gru
                              and rnn at 64:25:64:H:1 for each generated H.
          --streaming         Time StepRunner's steps (a model stepped one position at
                              a time, its state carried) at 1 and 8 streams: the main
                              job's character LSTM (256 units, one-hot over 65), or
                              each --shape with dense input and no head.
          -h, --help          Show this help.

        EXAMPLES:
          swift run -c release rnnkit-bench
          swift run -c release rnnkit-bench --threads 2 --min-time 0.5 --shape lstm:64:100:128:256:1
          swift run -c release rnnkit-bench --scaling --json
          swift run -c release rnnkit-bench --kernels --threads 1 --min-time 1
        """
}

/// A command line that cannot be run.
enum OptionError: Error, CustomStringConvertible {
    case unknownOption(String)
    case missingValue(option: String)
    case invalidValue(option: String, value: String, expected: String)
    case unexpectedValue(option: String)
    case shape(ShapeSyntaxError)
    case childNeedsOneShape(given: Int)

    var description: String {
        switch self {
        case .unknownOption(let option): "unknown option '\(option)' (see --help)"
        case .missingValue(let option): "\(option) needs a value (see --help)"
        case .invalidValue(let option, let value, let expected):
            "invalid value '\(value)' for \(option): expected \(expected)"
        case .unexpectedValue(let option): "\(option) takes no value"
        case .shape(let error): error.description
        case .childNeedsOneShape(let given): "--child measures exactly one --shape, got \(given)"
        }
    }

    /// The shared parser's error, worded as this tool always has.
    init(_ error: ArgumentError) {
        switch error {
        case .unexpectedArgument(let argument), .unknownOption(_, let argument): self = .unknownOption(argument)
        case .missingValue(let option, _): self = .missingValue(option: "--" + option)
        case .unexpectedValue(let option): self = .unexpectedValue(option: "--" + option)
        case .invalidValue(let option, let value, let expected):
            self = .invalidValue(option: "--" + option, value: value, expected: expected)
        }
    }
}

extension BenchOptions {
    /// The options `usage` describes, as the shared parser reads them.
    static let specs: [OptionSpec] = [
        .value("shape", "SPEC", "CELL:BATCH:SEQ:INPUT:HIDDEN:LAYERS[:DROPOUT]; repeatable"),
        .value("threads", "N", "worker threads", integers: 1...4096),
        .value("min-time", "SECONDS", "timed seconds per shape and phase"),
        .value("peak-time", "SECONDS", "seconds per FMA peak measurement"),
        .flag("json", "one JSON object per shape"),
        .flag("inference", "also time forward-only inference"),
        .flag("no-inference", "time training steps only"),
        .flag("scaling", "run the shapes at 1...N threads"),
        .flag("gemm", "time the single-threaded GEMM"),
        .flag("kernels", "compare kernel variants"),
        .flag("streaming", "time steps of one position at batch 1 and 8"),
        .value("ranks", "N", "MPI processes per measurement", integers: 1...4096),
        .flag("child", "internal: measure one shape in this process"),
        .flag("help", "show this help", aliases: ["-h"])
    ]

    /// Reads the arguments after the program name; `--name value` and `--name=value` both work.
    init(parsing words: [String]) throws(OptionError) {
        let arguments: Arguments
        do {
            arguments = try Arguments(words, specs: Self.specs)
            if let value = try arguments.integer("threads") { threads = value }
            if let value = try arguments.integer("ranks") { ranks = value }
        } catch {
            throw OptionError(error)
        }
        for spec in arguments.strings("shape") {
            do { shapes.append(try BenchShape(parsing: spec)) } catch { throw .shape(error) }
        }
        if let text = arguments.string("min-time") { minTime = try Self.seconds(text, option: "--min-time") }
        if let text = arguments.string("peak-time") { peakTime = try Self.seconds(text, option: "--peak-time") }
        json = arguments.flag("json")
        inference = arguments.last(of: ["inference", "no-inference"]) != "no-inference"
        scaling = arguments.flag("scaling")
        gemm = arguments.flag("gemm")
        kernels = arguments.flag("kernels")
        streaming = arguments.flag("streaming")
        child = arguments.flag("child")
        help = arguments.flag("help")
        if child, shapes.count != 1 { throw .childNeedsOneShape(given: shapes.count) }
    }

    private static func seconds(_ text: String, option: String) throws(OptionError) -> Double {
        guard let value = Double(text), value.isFinite, value >= 0, value <= 3600 else {
            throw .invalidValue(option: option, value: text, expected: "seconds between 0 and 3600")
        }
        return value
    }

    /// The shapes to run: those given, or the mode's default set.
    var selectedShapes: [BenchShape] {
        if !shapes.isEmpty { return shapes }
        if kernels { return BenchShape.specializedSet }
        return scaling ? BenchShape.scalingSet : BenchShape.defaultSet
    }
}
