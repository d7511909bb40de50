import CommandLineOptions
import Foundation
import RNNKit

/// A subcommand: its options, its help, and what it does.
protocol Command {
    static var name: String { get }
    static var summary: String { get }
    static var usage: String { get }
    /// The options of every run of the command.
    static var options: [OptionSpec] { get }
    /// Every option the command parses: `options`, and those of each kind of data it reads.
    static var acceptedOptions: [OptionSpec] { get }
    /// Options listed in help after `options`, under headings.
    static var helpSections: [(heading: String, options: [OptionSpec])] { get }
    static var notes: String { get }
    init(_ arguments: Arguments) throws
    func run() throws
}

extension Command {
    static var notes: String { "" }
    static var acceptedOptions: [OptionSpec] { options }
    static var helpSections: [(heading: String, options: [OptionSpec])] { [] }
    static var help: String {
        Help.text(
            program: "rnnkit \(name)", summary: summary, usage: usage, options: options,
            sections: helpSections, notes: notes)
    }
}

/// Options every command that runs a model shares.
extension OptionSpec {
    static let threads = OptionSpec.value(
        "threads", "N", "worker threads, at most \(Trainer.maximumThreads) (default: all cores)",
        integers: 1...Trainer.maximumThreads)
    static let json = OptionSpec.flag("json", "print a machine-readable summary as the last line of stdout")
}

func requiredPath(_ arguments: Arguments, _ name: String) throws -> URL {
    guard let path = arguments.string(name) else { throw UsageError("--\(name) is required") }
    return URL(fileURLWithPath: path)
}

/// Prints one JSON object on a line.
func printJSON(_ fields: [(String, JSONValue)]) {
    var object = JSONObject()
    for (key, value) in fields { object[key] = value }
    print(JSONValue.object(object).serialized())
}

/// A model file's model and what it records about its data, read once.
func readModel(_ url: URL) throws -> (model: Model, metadata: DataMetadata) {
    let file = try SafetensorsFile(contentsOf: url)
    return (try Model(file: file), DataMetadata(file.metadata, source: url.path))
}
