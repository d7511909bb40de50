import CommandLineOptions
import Foundation
import RNNKit

/// A kind of data the tool reads: a text corpus, a UCR/UEA `.ts`
/// classification set, a CSV series to forecast, or a safetensors tensor
/// data set. Each declares how it is recognised, the options it adds to each
/// command, and what each command does with it; commands choose the kind
/// once, from the `--data` file, and refuse any option it does not declare.
protocol DataKind {
    /// The kind in a list of several ("text", ".ts classification sets").
    static var name: String { get }
    /// One file of the kind, after "not to" ("text", "a .ts classification set").
    static var singular: String { get }
    /// The heading of its options in help.
    static var heading: String { get }
    /// The file suffixes, without the dot, that make a file this kind.
    static var suffixes: [String] { get }
    /// Why an option this kind does not declare is refused, where more can be
    /// said than which kinds it applies to; keyed by option name.
    static var refusals: [String: String] { get }

    static var trainOptions: [OptionSpec] { get }
    static var evalOptions: [OptionSpec] { get }
    /// The files `train` writes beside the model and its loss curve.
    static func trainOutputs(_ command: TrainCommand) -> [URL?]
    static func train(_ command: TrainCommand) throws
    static func evaluate(_ command: EvalCommand, model: Model, metadata: DataMetadata, modelURL: URL, data: URL) throws
}

/// A kind of data `predict` reads (`PredictCommand.dataKinds`).
protocol PredictableData: DataKind {
    static func predict(_ command: PredictCommand, model: URL, data: URL, out: URL) throws
}

extension DataKind {
    static var refusals: [String: String] { [:] }
    static var trainOptions: [OptionSpec] { [] }
    static var evalOptions: [OptionSpec] { [] }
    static func trainOutputs(_ command: TrainCommand) -> [URL?] { [] }

    /// Whether `path` names a file of this kind.
    static func recognises(_ path: String) -> Bool {
        suffixes.contains { path.lowercased().hasSuffix("." + $0) }
    }
}

/// A command whose work depends on the kind of its `--data`.
protocol DataKindCommand: Command {
    /// The kinds it reads; the last also reads any file no other recognises, and no file at all.
    static var dataKinds: [any DataKind.Type] { get }
    /// The options `kind` adds to this command.
    static func kindOptions(_ kind: any DataKind.Type) -> [OptionSpec]
}

extension DataKindCommand {
    static var acceptedOptions: [OptionSpec] {
        var names = Set(options.map { $0.name })
        return options + dataKinds.flatMap(kindOptions).filter { names.insert($0.name).inserted }
    }

    static var helpSections: [(heading: String, options: [OptionSpec])] {
        dataKinds.compactMap { kind in
            let specs = kindOptions(kind)
            return specs.isEmpty ? nil : (kind.heading, specs)
        }
    }

    /// The kind of the file at `path`.
    static func kind(of path: String?) -> any DataKind.Type {
        path.flatMap { path in dataKinds.first { $0.recognises(path) } } ?? dataKinds.last!
    }

    /// Refuses the first option given (in the order of the specs) that
    /// neither this command nor `kind` declares, naming the kinds it applies to.
    static func check(_ arguments: Arguments, against kind: any DataKind.Type) throws {
        let declared = Set((options + kindOptions(kind)).map { $0.name })
        guard let refused = arguments.given.first(where: { !declared.contains($0.name) }) else { return }
        if let reason = kind.refusals[refused.name] { throw UsageError("--\(refused.name) \(reason)") }
        let owners = dataKinds.filter { owner in kindOptions(owner).contains { $0.name == refused.name } }
            .map { $0.name }
        let list = owners.dropLast().joined(separator: ", ") + (owners.count > 1 ? " and " : "") + owners.last!
        throw UsageError("--\(refused.name) applies to \(list), not to \(kind.singular)")
    }
}
