import CommandLineOptions
import Foundation
import RNNKit

/// `rnnkit SUBCOMMAND [OPTIONS]`: parses, calls RNNKit, prints.
let commands: [any Command.Type] = [
    TrainCommand.self, EvalCommand.self, ForecastCommand.self, SampleCommand.self,
    PredictCommand.self, InspectCommand.self
]

let commandList = commands.map { "  " + $0.name.padding(toLength: 10, withPad: " ", startingAt: 0) + $0.summary }
let overview = """
    rnnkit: train and run recurrent networks (vanilla RNN, LSTM, GRU) on the CPU.

    Usage: rnnkit SUBCOMMAND [OPTIONS]

    Subcommands:
    \(commandList.joined(separator: "\n"))

    With no options, `rnnkit train` trains a character-level LSTM on Tiny Shakespeare.
    Run `rnnkit SUBCOMMAND --help` for a subcommand's options.
    """

/// A notice on standard error; under mpirun, from rank 0 only (errors go through `Processes.report`).
func standardError(_ text: String) {
    guard Processes.isLead else { return }
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

let arguments = CommandLine.arguments.dropFirst()
guard let name = arguments.first, !["--help", "-h", "help"].contains(name) else {
    print(overview)
    exit(arguments.isEmpty ? 2 : 0)
}
guard let command = commands.first(where: { $0.name == name }) else {
    standardError("rnnkit: error: unknown subcommand '\(name)' (try rnnkit --help)")
    exit(2)
}
let options = arguments.dropFirst()
if options.contains("--help") || options.contains("-h") {
    print(command.help)
    exit(0)
}
do {
    let parsed = try Arguments(options, specs: command.acceptedOptions)
    try command.init(parsed).run()
} catch let interrupted as Interrupted {
    // Under mpirun every rank stops at the same step (the run agrees on
    // cancellation), so all exit together and rank 0 speaks for them.
    standardError("rnnkit \(name): \(interrupted)")
    exit(128 + interrupted.signal)
} catch let error as UsageError {
    Processes.report("rnnkit \(name): error: \(error)")
    Processes.exit(2)
} catch let error as ArgumentError {
    Processes.report("rnnkit \(name): error: \(error)")
    Processes.exit(2)
} catch {
    Processes.report("rnnkit \(name): error: \(error)")
    Processes.exit(1)
}
