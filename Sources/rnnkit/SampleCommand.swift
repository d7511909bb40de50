import CommandLineOptions
import Foundation
import RNNKit

/// `rnnkit sample`: generates text from a character-level model.
struct SampleCommand: Command {
    static let name = "sample"
    static let summary = "generate text from a character-level model"
    static let usage = "--model FILE [--prime TEXT] [--length N] [--temperature X] [--top-k K] [--seed N]"
    static let options: [OptionSpec] = [
        .value("model", "FILE", "a character-level model written by `rnnkit train` on text"),
        .value("prime", "TEXT", "text to start from (default: none)"),
        .value("length", "N", "characters to generate (default 500)"),
        .value("temperature", "X", "softmax temperature; lower is more conservative (default 0.8)"),
        .value("top-k", "K", "sample only among the K most likely characters"),
        .value("seed", "N", "random seed (default 0)"),
        .json
    ]

    let arguments: Arguments
    init(_ arguments: Arguments) { self.arguments = arguments }

    func run() throws {
        let model = try Model(contentsOf: try requiredPath(arguments, "model"))
        let temperature = try arguments.number("temperature", default: 0.8, minimum: 1e-6)!
        let text = try model.sampleText(
            prime: arguments.string("prime") ?? "",
            length: try arguments.integer("length", default: 500, range: 0...10_000_000)!,
            temperature: Float(temperature), topK: try arguments.integer("top-k"),
            seed: UInt64(try arguments.integer("seed", default: 0, range: 0...Int.max)!))
        if arguments.flag("json") {
            printJSON([("text", .string(text))])
        } else {
            print(text)
        }
    }
}
