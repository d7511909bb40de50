import Foundation
import RNNKit

/// A classifier's scores over a data set: mean cross-entropy, accuracy and
/// the confusion matrix, built one position (a case, or a step) at a time
/// from the model's logits.
struct ClassificationScores {
    let classNames: [String]
    /// `confusion[actual][predicted]`: how many positions of each class went to each.
    private(set) var confusion: [[Int]]
    private(set) var count = 0
    private var lossSum = 0.0

    init(classNames: [String]) {
        self.classNames = classNames
        confusion = Array(repeating: Array(repeating: 0, count: classNames.count), count: classNames.count)
    }

    /// Scores one position: its logits (one per class) and its true class.
    mutating func add(logits: ArraySlice<Float>, label: Int) {
        let predicted = logits.indices.max { logits[$0] < logits[$1] }! - logits.startIndex
        confusion[label][predicted] += 1
        lossSum += logSumExp(logits) - Double(logits[logits.startIndex + label])
        count += 1
    }

    var correct: Int { classNames.indices.reduce(0) { $0 + confusion[$1][$1] } }
    var accuracy: Double { count > 0 ? Double(correct) / Double(count) : .nan }
    /// Mean cross-entropy in nats, as training reports it.
    var loss: Double { count > 0 ? lossSum / Double(count) : .nan }

    /// The confusion matrix as an aligned table, actual classes down, predicted
    /// across, with each class's recall (the share of it classified right).
    func table() -> String {
        let corner = "actual \\ predicted"
        let nameWidth = max(corner.count, classNames.map(\.count).max() ?? 0)
        let cellWidth = max(3, classNames.map(\.count).max() ?? 0, String(confusion.joined().max() ?? 0).count)
        func pad(_ text: String, _ width: Int, left: Bool = false) -> String {
            let space = String(repeating: " ", count: max(0, width - text.count))
            return left ? text + space : space + text
        }
        var lines = [pad(corner, nameWidth, left: true) + classNames.map { " " + pad($0, cellWidth) }.joined() + "  recall"]
        for (actual, row) in confusion.enumerated() {
            let total = row.reduce(0, +)
            let recall = total > 0 ? String(format: "%.3f", Double(row[actual]) / Double(total)) : "-"
            lines.append(pad(classNames[actual], nameWidth, left: true) + row.map { " " + pad(String($0), cellWidth) }.joined()
                         + "  " + pad(recall, 6))
        }
        return lines.joined(separator: "\n")
    }

    var heatmap: Heatmap {
        Heatmap(title: "", rowTitle: "actual class", columnTitle: "predicted class",
                rowNames: classNames, columnNames: classNames, counts: confusion)
    }

    /// `loss`, `accuracy`, `correct`, `count`, `classes`, `confusion` for `--json`.
    var jsonFields: [(String, JSONValue)] {
        [("loss", .number(loss)), ("accuracy", .number(accuracy)), ("correct", .integer(correct)), ("count", .integer(count)),
         ("classes", .array(classNames.map { .string($0) })),
         ("confusion", .array(confusion.map { .array($0.map { .integer($0) }) }))]
    }
}

/// Errors of real-valued predictions: mean squared error (the training loss),
/// its root, and the mean absolute error.
struct RegressionScores {
    private(set) var count = 0
    private var squaredSum = 0.0
    private var absoluteSum = 0.0

    mutating func add(predicted: Float, actual: Float) {
        let error = Double(predicted) - Double(actual)
        squaredSum += error * error
        absoluteSum += abs(error)
        count += 1
    }

    var meanSquaredError: Double { count > 0 ? squaredSum / Double(count) : .nan }
    var rootMeanSquaredError: Double { meanSquaredError.squareRoot() }
    var meanAbsoluteError: Double { count > 0 ? absoluteSum / Double(count) : .nan }
}

/// `log(sum(exp(x)))`, computed stably in `Double`.
func logSumExp(_ logits: ArraySlice<Float>) -> Double {
    let largest = Double(logits.max() ?? 0)
    return largest + log(logits.reduce(0.0) { $0 + exp(Double($1) - largest) })
}

/// The softmax of one position's logits.
func softmax(_ logits: ArraySlice<Float>) -> [Float] {
    let total = logSumExp(logits)
    return logits.map { Float(exp(Double($0) - total)) }
}

/// Mean absolute percentage error, in percent, over the values whose actual
/// value is not zero (where a percentage has no meaning); NaN if none is.
func meanAbsolutePercentageError(actual: [Float], predicted: [Float]) -> Double {
    let pairs = zip(actual, predicted).filter { $0.0 != 0 }
    guard !pairs.isEmpty else { return .nan }
    return 100 * pairs.reduce(0.0) { $0 + abs(Double($1.1) - Double($1.0)) / abs(Double($1.0)) } / Double(pairs.count)
}
