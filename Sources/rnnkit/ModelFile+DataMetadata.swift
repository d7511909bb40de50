import Foundation
import RNNKit

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
struct DataMetadata {
    enum Kind: String {
        case timeSeriesClassification = "time_series_classification"
        case forecasting
    }

    enum Key {
        static let kind = "data_kind"
        static let scaling = "feature_scaling"
        static let classNames = "class_names"
        static let problemName = "problem_name"
        static let patch = "patch"
        static let window = "forecast_window"
        static let horizon = "forecast_horizon"
        static let transform = "forecast_transform"
        static let season = "forecast_season"
        static let testCount = "forecast_test_count"
        static let columns = "forecast_columns"
        static let timestampColumn = "timestamp_column"
    }

    /// The entries, as written to or read from a model file.
    var entries: [String: String]
    /// The model file, for errors.
    var source: String

    init(_ entries: [String: String] = [:], source: String = "<memory>") {
        self.entries = entries
        self.source = source
    }

    /// The metadata of the model file at `url`.
    init(contentsOf url: URL) throws {
        self.init(try SafetensorsFile(contentsOf: url).metadata, source: url.path)
    }

    var kind: Kind? { entries[Key.kind].flatMap(Kind.init(rawValue:)) }

    // MARK: Typed entries

    var scaling: FeatureScaling? {
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

    mutating func setScaling(_ scaling: FeatureScaling) {
        let numbers = { (values: [Float]) in JSONValue.array(values.map { .number(Double($0)) }) }
        entries[Key.scaling] = JSONValue.object(["mean": numbers(scaling.mean), "deviation": numbers(scaling.deviation)]).serialized()
    }

    func strings(_ key: String) throws -> [String]? {
        guard let text = entries[key] else { return nil }
        guard let items = (try? JSONValue(parsing: text))?.arrayValue, !items.isEmpty,
              case let strings = items.compactMap(\.stringValue), strings.count == items.count else {
            throw ModelError.metadata(key: key, problem: "must be a JSON array of strings, got '\(text.prefix(80))'", source: source)
        }
        return strings
    }

    mutating func setStrings(_ key: String, _ values: [String]) {
        entries[key] = JSONValue.array(values.map { .string($0) }).serialized()
    }

    /// A size or count the file records (a patch, a window, a season): at
    /// most 2^24, the largest size a model has, so that no edited file can
    /// make later arithmetic overflow or a loop run for ever.
    func integer(_ key: String, minimum: Int = 1) throws -> Int? {
        guard let text = entries[key] else { return nil }
        let maximum = 1 << 24
        guard let value = Int(text), value >= minimum, value <= maximum else {
            throw ModelError.metadata(key: key, problem: "must be an integer in \(minimum)...\(maximum), got '\(text)'", source: source)
        }
        return value
    }

    func required<T>(_ key: String, _ value: T?) throws -> T {
        guard let value else {
            throw ModelError.metadata(key: key, problem: "is missing; was the model trained by `rnnkit train` on this kind of data?",
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

/// A model file's model and what it records about its data, read once.
func readModel(_ url: URL) throws -> (model: Model, metadata: DataMetadata) {
    let file = try SafetensorsFile(contentsOf: url)
    return (try Model(file: file), DataMetadata(file.metadata, source: url.path))
}
