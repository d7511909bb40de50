/// Errors about a model's configuration, parameters or use.
public enum ModelError: Error, CustomStringConvertible, Equatable {
    case invalidConfiguration(String)
    case missingParameter(name: String, source: String)
    case parameterShape(name: String, expected: [Int], actual: [Int], source: String)
    case unexpectedParameter(name: String, source: String)
    /// A parameter holds NaN or an infinity: read from a file, or about to be
    /// written to one (training that diverged), which is then refused.
    case nonFiniteParameter(name: String, element: Int, value: Float, source: String)
    case metadata(key: String, problem: String, source: String)
    case inputMismatch(String)
    /// An optimiser or clipping setting no update can use (a NaN or negative rate, say).
    case invalidSetting(String)
    case tooLarge(String)
    case unsupportedProcessor(String)

    public var description: String {
        switch self {
        case .invalidConfiguration(let message): "invalid model configuration: \(message)"
        case .missingParameter(let name, let source): "\(source): missing parameter tensor '\(name)'"
        case .parameterShape(let name, let expected, let actual, let source):
            "\(source): parameter '\(name)' has shape \(actual), expected \(expected)"
        case .unexpectedParameter(let name, let source): "\(source): tensor '\(name)' is not a parameter of this model"
        case .nonFiniteParameter(let name, let element, let value, let source):
            "\(source): parameter '\(name)' holds a non-finite value (\(value)) at element \(element)"
        case .metadata(let key, let problem, let source): "\(source): metadata '\(key)' \(problem)"
        case .inputMismatch(let message): "data does not fit the model: \(message)"
        case .invalidSetting(let message): "invalid training setting: \(message)"
        case .tooLarge(let message): "too large: \(message)"
        case .unsupportedProcessor(let message): "unsupported processor: \(message)"
        }
    }
}
