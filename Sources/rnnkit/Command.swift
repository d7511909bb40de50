import Foundation
import RNNKit

/// A subcommand: its options, its help, and what it does.
protocol Command {
    static var name: String { get }
    static var summary: String { get }
    static var usage: String { get }
    static var options: [OptionSpec] { get }
    static var notes: String { get }
    init(_ arguments: Arguments) throws
    func run() throws
}

extension Command {
    static var notes: String { "" }
    static var help: String { Arguments.help(command: name, summary: summary, usage: usage, specs: options, notes: notes) }
}

/// Options every command that runs a model shares.
extension OptionSpec {
    static let threads = OptionSpec.value("threads", "N", "worker threads, at most \(Trainer.maximumThreads) (default: all cores)",
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
