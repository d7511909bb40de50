/// Parsed options of one command, with typed accessors whose errors name
/// the option and the value that was wrong.
///
/// A value option given twice keeps its last value for `string(_:)` and all
/// of them, in order, for `strings(_:)`.
package struct Arguments {
    private var values: [String: [String]] = [:]
    private var flags: Set<String> = []
    /// The options in the order given, for options whose last word wins (`--inference`, `--no-inference`).
    private var order: [String] = []
    package let specs: [OptionSpec]

    package init<Words: Collection<String>>(_ arguments: Words, specs: [OptionSpec]) throws(ArgumentError) {
        self.specs = specs
        var remaining = arguments[...]
        while let argument = remaining.popFirst() {
            if let spec = specs.first(where: { $0.aliases.contains(argument) }) {
                flags.insert(spec.name)
                order.append(spec.name)
                continue
            }
            guard argument.hasPrefix("--") else { throw .unexpectedArgument(argument) }
            var name = String(argument.dropFirst(2))
            var inlineValue: String?
            if let equals = name.firstIndex(of: "=") {
                inlineValue = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            guard let spec = specs.first(where: { $0.name == name }) else {
                throw .unknownOption(name: name, argument: argument)
            }
            order.append(name)
            if let valueName = spec.valueName {
                if let inlineValue {
                    values[name, default: []].append(inlineValue)
                } else if let next = remaining.popFirst() {
                    values[name, default: []].append(next)
                } else {
                    throw .missingValue(option: name, valueName: valueName)
                }
            } else {
                guard inlineValue == nil else { throw .unexpectedValue(option: name) }
                flags.insert(name)
            }
        }
    }

    package func has(_ name: String) -> Bool { values[name] != nil || flags.contains(name) }
    package func flag(_ name: String) -> Bool { flags.contains(name) }
    package func string(_ name: String) -> String? { values[name]?.last }
    package func strings(_ name: String) -> [String] { values[name] ?? [] }

    /// Which of `names` was given last, if any.
    package func last(of names: [String]) -> String? { order.last { names.contains($0) } }

    /// The options given, by name, in the order of their specs.
    package var given: [OptionSpec] { specs.filter { has($0.name) } }

    /// Every count an option gives (steps, sizes, lengths) is at most 2^31,
    /// so that the products of two of them cannot overflow.
    package static let integerRange = 1...(1 << 31)

    /// The option's integer value: in `range` if given, else in its spec's
    /// range, else in `integerRange`.
    package func integer(
        _ name: String, default fallback: Int? = nil,
        range: ClosedRange<Int>? = nil
    ) throws(ArgumentError) -> Int? {
        guard let text = string(name) else { return fallback }
        let range = range ?? specs.first { $0.name == name }?.integers ?? Self.integerRange
        guard let value = Int(text), range.contains(value) else {
            throw .invalidValue(
                option: name, value: text,
                expected: "an integer in \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    /// The option's value as a number, finite as a `Float` too: the
    /// optimiser and sampler compute in single precision.
    package func number(
        _ name: String, default fallback: Double? = nil,
        minimum: Double = 0
    ) throws(ArgumentError) -> Double? {
        guard let text = string(name) else { return fallback }
        guard let value = Double(text), Float(value).isFinite, value >= minimum else {
            throw .invalidValue(
                option: name, value: text,
                expected: "a number >= \(minimum) (and at most \(Float.greatestFiniteMagnitude))")
        }
        return value
    }

    package func choice<T: RawRepresentable>(
        _ name: String, default fallback: T? = nil,
        aliases: [String: T] = [:]
    ) throws(ArgumentError) -> T?
    where T.RawValue == String, T: CaseIterable {
        guard let text = string(name) else { return fallback }
        if let value = T(rawValue: text) ?? aliases[text] { return value }
        let names = T.allCases.map(\.rawValue) + aliases.keys.sorted()
        throw .invalidValue(option: name, value: text, expected: "one of \(names.joined(separator: ", "))")
    }
}
