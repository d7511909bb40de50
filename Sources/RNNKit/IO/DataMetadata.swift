import Foundation

/// What a model file records about the data it was trained on, beside its
/// configuration: enough for `eval`, `predict` and `forecast` to prepare new
/// data exactly as training did. Every entry is a string in the safetensors
/// `__metadata__`; lists and scalings are JSON.
///
/// ```
/// "data_kind": "time_series_classification",
/// "class_names": "[\"1\",\"2\",\"3\"]",
/// "feature_scaling": "{\"mean\":[0.12,...],\"deviation\":[1.3,...]}"
/// ```
public struct DataMetadata: Sendable {
    /// The kinds of data whose metadata a model file can hold.
    public enum Kind: String, Sendable {
        case timeSeriesClassification = "time_series_classification"
        case forecasting
    }

    /// The metadata keys.
    public enum Key {
        public static let kind = "data_kind"
        public static let scaling = "feature_scaling"
        public static let classNames = "class_names"
        public static let problemName = "problem_name"
        public static let patch = "patch"
        public static let window = "forecast_window"
        public static let horizon = "forecast_horizon"
        public static let transform = "forecast_transform"
        public static let season = "forecast_season"
        public static let testCount = "forecast_test_count"
        public static let columns = "forecast_columns"
        public static let timestampColumn = "timestamp_column"
    }

    /// The entries, as written to or read from a model file.
    public var entries: [String: String]
    /// The model file, for errors.
    public var source: String

    public init(_ entries: [String: String] = [:], source: String = "<memory>") {
        self.entries = entries
        self.source = source
    }

    /// The metadata of the model file at `url`.
    public init(contentsOf url: URL) throws {
        self.init(try SafetensorsFile(contentsOf: url).metadata, source: url.path)
    }

    public var kind: Kind? { entries[Key.kind].flatMap(Kind.init(rawValue:)) }

    // MARK: Typed entries

    /// The recorded feature scaling, if any; throws when it is malformed.
    public var scaling: FeatureScaling? {
        get throws {
            guard let text = entries[Key.scaling] else { return nil }
            let problem = "must be JSON {\"mean\": [numbers], \"deviation\": [positive numbers]} of equal length"
            guard let object = (try? JSONValue(parsing: text))?.objectValue,
                let mean = object["mean"].flatMap(Self.floats), let deviation = object["deviation"].flatMap(Self.floats)
            else { throw ModelError.metadata(key: Key.scaling, problem: problem, source: source) }
            do {
                return try FeatureScaling(mean: mean, deviation: deviation)
            } catch {
                throw ModelError.metadata(key: Key.scaling, problem: "\(problem): \(error)", source: source)
            }
        }
    }

    public mutating func setScaling(_ scaling: FeatureScaling) {
        let numbers = { (values: [Float]) in JSONValue.array(values.map { .number(Double($0)) }) }
        entries[Key.scaling] = JSONValue.object(["mean": numbers(scaling.mean), "deviation": numbers(scaling.deviation)]
        ).serialized()
    }

    /// The JSON array of strings under `key`, if any; throws when it is malformed.
    public func strings(_ key: String) throws -> [String]? {
        guard let text = entries[key] else { return nil }
        guard let items = (try? JSONValue(parsing: text))?.arrayValue, !items.isEmpty,
            case let strings = items.compactMap(\.stringValue), strings.count == items.count
        else {
            throw ModelError.metadata(
                key: key, problem: "must be a JSON array of strings, got '\(text.prefix(80))'", source: source)
        }
        return strings
    }

    public mutating func setStrings(_ key: String, _ values: [String]) {
        entries[key] = JSONValue.array(values.map { .string($0) }).serialized()
    }

    /// A size or count the file records (a patch, a window, a season): at
    /// most 2^24, the largest size a model has, so that no edited file can
    /// make later arithmetic overflow or a loop run for ever.
    public func integer(_ key: String, minimum: Int = 1) throws -> Int? {
        guard let text = entries[key] else { return nil }
        let maximum = 1 << 24
        guard let value = Int(text), value >= minimum, value <= maximum else {
            throw ModelError.metadata(
                key: key, problem: "must be an integer in \(minimum)...\(maximum), got '\(text)'", source: source)
        }
        return value
    }

    /// `value`, or an error naming `key` as missing.
    public func required<T>(_ key: String, _ value: T?) throws -> T {
        guard let value else {
            throw ModelError.metadata(
                key: key, problem: "is missing; was the model trained by `rnnkit train` on this kind of data?",
                source: source)
        }
        return value
    }

    private static func floats(_ value: JSONValue) -> [Float]? {
        guard let items = value.arrayValue else { return nil }
        let numbers = items.compactMap { item -> Float? in
            switch item {
            case .number(let number): Float(number)
            case .integer(let number): Float(number)
            default: nil
            }
        }
        return numbers.count == items.count ? numbers : nil
    }
}
