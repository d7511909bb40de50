/// A command-line option: `--name VALUE`, `--name=VALUE`, or a bare `--name` flag.
package struct OptionSpec: Sendable {
    package let name: String
    /// What the value stands for in help (`N`, `FILE`); nil for a flag.
    package let valueName: String?
    package let help: String
    /// The integers an integer option accepts, where narrower than `Arguments.integerRange`.
    package var integers: ClosedRange<Int>?
    /// Other spellings, such as `-h` for `--help`.
    package var aliases: [String] = []

    package static func value(
        _ name: String, _ valueName: String, _ help: String,
        integers: ClosedRange<Int>? = nil
    ) -> OptionSpec {
        OptionSpec(name: name, valueName: valueName, help: help, integers: integers)
    }

    package static func flag(_ name: String, _ help: String, aliases: [String] = []) -> OptionSpec {
        OptionSpec(name: name, valueName: nil, help: help, aliases: aliases)
    }

    /// `--name VALUE` or `--name`, as help shows it.
    package var label: String { "--\(name)" + (valueName.map { " \($0)" } ?? "") }
}

/// What was wrong with a command line, in the parser's terms; each tool
/// words it its own way (`description` is `rnnkit`'s).
package enum ArgumentError: Error, CustomStringConvertible {
    /// An argument that is not an option, such as a stray file name.
    case unexpectedArgument(String)
    /// An option no spec declares: its name and the argument as written (`--x=1`).
    case unknownOption(name: String, argument: String)
    case missingValue(option: String, valueName: String)
    case unexpectedValue(option: String)
    case invalidValue(option: String, value: String, expected: String)

    package var description: String {
        switch self {
        case .unexpectedArgument(let argument): "unexpected argument '\(argument)'"
        case .unknownOption(let name, _): "unknown option '--\(name)' (see --help)"
        case .missingValue(let option, let valueName): "--\(option) needs a value: --\(option) \(valueName)"
        case .unexpectedValue(let option): "--\(option) takes no value"
        case .invalidValue(let option, let value, let expected): "--\(option) expects \(expected), got '\(value)'"
        }
    }
}

/// A bad command line, reported as one line and exit status 2.
package struct UsageError: Error, CustomStringConvertible {
    package let description: String
    package init(_ description: String) { self.description = description }
}
