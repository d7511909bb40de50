import CommandLineOptions
import Foundation
import RNNKit

/// `rnnkit inspect`: a model file's metadata and parameter shapes.
struct InspectCommand: Command {
    static let name = "inspect"
    static let summary = "show a model file's configuration and parameter shapes"
    static let usage = "--model FILE"
    static let options: [OptionSpec] = [
        .value("model", "FILE", "model file (safetensors)"),
        .json
    ]

    let arguments: Arguments
    init(_ arguments: Arguments) { self.arguments = arguments }

    func run() throws {
        let url = try requiredPath(arguments, "model")
        let file = try SafetensorsFile(contentsOf: url)
        // A checkpoint holds a model too, beside the optimiser's state.
        let model =
            file.metadata["format"] == "rnnkit-checkpoint"
            ? try Checkpoint(contentsOf: url).model() : try Model(file: file)
        if arguments.flag("json") {
            var shapes = JSONObject()
            for name in model.parameterNames { shapes[name] = .array(model.shape(of: name)!.map { .integer($0) }) }
            var metadata = JSONObject()
            for key in file.metadata.keys.sorted() { metadata[key] = .string(file.metadata[key]!) }
            printJSON([
                ("metadata", .object(metadata)), ("parameters", .object(shapes)),
                ("parameter_count", .integer(model.parameterCount))
            ])
            return
        }
        print(url.path)
        for key in file.metadata.keys.sorted() where key != "vocabulary" { print("  \(key): \(file.metadata[key]!)") }
        if !model.configuration.vocabulary.isEmpty {
            print("  vocabulary: \(model.configuration.vocabulary.count) characters")
        }
        print("parameters (\(model.parameterCount)):")
        let width = model.parameterNames.map(\.count).max() ?? 0
        for name in model.parameterNames {
            print("  \(name.padding(toLength: width, withPad: " ", startingAt: 0))  \(model.shape(of: name)!)")
        }
    }
}
