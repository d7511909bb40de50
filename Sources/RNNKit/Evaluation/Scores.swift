import Foundation

/// A classifier's scores over a data set: mean cross-entropy, accuracy and
/// the confusion matrix, built one position (a case, or a step) at a time
/// from the model's logits.
public struct ClassificationScores: Sendable {
    public let classNames: [String]
    /// `confusion[actual][predicted]`: how many positions of each class went to each.
    public private(set) var confusion: [[Int]]
    public private(set) var count = 0
    private var lossSum = 0.0

    public init(classNames: [String]) {
        self.classNames = classNames
        confusion = Array(repeating: Array(repeating: 0, count: classNames.count), count: classNames.count)
    }

    /// Scores one position: its logits (one per class) and its true class.
    public mutating func add(logits: ArraySlice<Float>, label: Int) {
        let predicted = logits.indices.max { logits[$0] < logits[$1] }! - logits.startIndex
        confusion[label][predicted] += 1
        lossSum += logSumExp(logits) - Double(logits[logits.startIndex + label])
        count += 1
    }

    public var correct: Int { classNames.indices.reduce(0) { $0 + confusion[$1][$1] } }
    public var accuracy: Double { count > 0 ? Double(correct) / Double(count) : .nan }
    /// Mean cross-entropy in nats, as training reports it.
    public var loss: Double { count > 0 ? lossSum / Double(count) : .nan }
}

/// Errors of real-valued predictions: mean squared error (the training loss),
/// its root, and the mean absolute error.
public struct RegressionScores: Sendable {
    public private(set) var count = 0
    private var squaredSum = 0.0
    private var absoluteSum = 0.0

    public init() {}

    public mutating func add(predicted: Float, actual: Float) {
        let error = Double(predicted) - Double(actual)
        squaredSum += error * error
        absoluteSum += abs(error)
        count += 1
    }

    public var meanSquaredError: Double { count > 0 ? squaredSum / Double(count) : .nan }
    public var rootMeanSquaredError: Double { meanSquaredError.squareRoot() }
    public var meanAbsoluteError: Double { count > 0 ? absoluteSum / Double(count) : .nan }
}

/// `log(sum(exp(x)))`, computed stably in `Double`.
public func logSumExp(_ logits: ArraySlice<Float>) -> Double {
    let largest = Double(logits.max() ?? 0)
    return largest + log(logits.reduce(0.0) { $0 + exp(Double($1) - largest) })
}

/// The softmax of one position's logits.
public func softmax(_ logits: ArraySlice<Float>) -> [Float] {
    let total = logSumExp(logits)
    return logits.map { Float(exp(Double($0) - total)) }
}

/// Mean absolute percentage error, in percent, over the values whose actual
/// value is not zero (where a percentage has no meaning); NaN if none is.
public func meanAbsolutePercentageError(actual: [Float], predicted: [Float]) -> Double {
    let pairs = zip(actual, predicted).filter { $0.0 != 0 }
    guard !pairs.isEmpty else { return .nan }
    return 100 * pairs.reduce(0.0) { $0 + abs(Double($1.1) - Double($1.0)) / abs(Double($1.0)) } / Double(pairs.count)
}
