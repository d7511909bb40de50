/// A command-line option: `--name VALUE`, `--name=VALUE`, or a bare `--name` flag.
struct OptionSpec {
    let name: String
    let valueName: String?
    let help: String
    /// The integers an integer option accepts, where narrower than `Arguments.integerRange`.
    var integers: ClosedRange<Int>?

    static func value(_ name: String, _ valueName: String, _ help: String, integers: ClosedRange<Int>? = nil) -> OptionSpec {
        OptionSpec(name: name, valueName: valueName, help: help, integers: integers)
    }

    static func flag(_ name: String, _ help: String) -> OptionSpec {
        OptionSpec(name: name, valueName: nil, help: help)
    }
}

/// A bad command line, reported as one line and exit status 2.
struct UsageError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Parsed options of one subcommand, with typed accessors whose errors name
/// the option and the value that was wrong.
struct Arguments {
    private var values: [String: String] = [:]
    private var flags: Set<String> = []
    let specs: [OptionSpec]

    init(_ arguments: ArraySlice<String>, specs: [OptionSpec]) throws(UsageError) {
        self.specs = specs
        var remaining = arguments[...]
        while let argument = remaining.popFirst() {
            guard argument.hasPrefix("--") else { throw UsageError("unexpected argument '\(argument)'") }
            var name = String(argument.dropFirst(2))
            var inlineValue: String?
            if let equals = name.firstIndex(of: "=") {
                inlineValue = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            guard let spec = specs.first(where: { $0.name == name }) else {
                throw UsageError("unknown option '--\(name)' (see --help)")
            }
            if spec.valueName == nil {
                guard inlineValue == nil else { throw UsageError("--\(name) takes no value") }
                flags.insert(name)
            } else if let inlineValue {
                values[name] = inlineValue
            } else if let next = remaining.popFirst() {
                values[name] = next
            } else {
                throw UsageError("--\(name) needs a value: --\(name) \(spec.valueName!)")
            }
        }
    }

    func has(_ name: String) -> Bool { values[name] != nil || flags.contains(name) }
    func flag(_ name: String) -> Bool { flags.contains(name) }
    func string(_ name: String) -> String? { values[name] }

    /// Every count an option gives (steps, sizes, lengths) is at most 2^31,
    /// so that the products of two of them cannot overflow.
    static let integerRange = 1...(1 << 31)

    /// The option's integer value: in `range` if given, else in its spec's
    /// range, else in `integerRange`.
    func integer(_ name: String, default fallback: Int? = nil, range: ClosedRange<Int>? = nil) throws(UsageError) -> Int? {
        guard let text = values[name] else { return fallback }
        let range = range ?? specs.first { $0.name == name }?.integers ?? Self.integerRange
        guard let value = Int(text), range.contains(value) else {
            throw UsageError("--\(name) expects an integer in \(range.lowerBound)...\(range.upperBound), got '\(text)'")
        }
        return value
    }

    /// The option's value as a number, finite as a `Float` too: the
    /// optimiser and sampler compute in single precision.
    func number(_ name: String, default fallback: Double? = nil, minimum: Double = 0) throws(UsageError) -> Double? {
        guard let text = values[name] else { return fallback }
        guard let value = Double(text), Float(value).isFinite, value >= minimum else {
            throw UsageError("--\(name) expects a number >= \(minimum) (and at most \(Float.greatestFiniteMagnitude)), got '\(text)'")
        }
        return value
    }

    func choice<T: RawRepresentable>(_ name: String, default fallback: T? = nil, aliases: [String: T] = [:]) throws(UsageError) -> T?
    where T.RawValue == String, T: CaseIterable {
        guard let text = values[name] else { return fallback }
        if let value = T(rawValue: text) ?? aliases[text] { return value }
        let names = T.allCases.map(\.rawValue) + aliases.keys.sorted()
        throw UsageError("--\(name) expects one of \(names.joined(separator: ", ")), got '\(text)'")
    }

    /// The help text for a subcommand.
    static func help(command: String, summary: String, usage: String, specs: [OptionSpec], notes: String = "") -> String {
        var text = "\(summary)\n\nUsage: rnnkit \(command) \(usage)\n\nOptions:\n"
        let labels = specs.map { "--\($0.name)" + ($0.valueName.map { " \($0)" } ?? "") }
        let width = min(30, (labels.map(\.count).max() ?? 0) + 2)
        for (label, spec) in zip(labels, specs) {
            let padding = label.count < width ? String(repeating: " ", count: width - label.count) : "\n" + String(repeating: " ", count: width + 2)
            text += "  \(label)\(padding)\(spec.help)\n"
        }
        text += "  --help" + String(repeating: " ", count: max(1, width - 6)) + "show this help\n"
        if !notes.isEmpty { text += "\n\(notes)\n" }
        return text
    }
}
