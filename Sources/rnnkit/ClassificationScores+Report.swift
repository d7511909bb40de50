import Foundation
import RNNKit

/// How the command line shows a classifier's scores: a confusion table,
/// a heatmap and `--json` fields.
extension ClassificationScores {
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
        var lines = [
            pad(corner, nameWidth, left: true) + classNames.map { " " + pad($0, cellWidth) }.joined() + "  recall"
        ]
        for (actual, row) in confusion.enumerated() {
            let total = row.reduce(0, +)
            let recall = total > 0 ? String(format: "%.3f", Double(row[actual]) / Double(total)) : "-"
            lines.append(
                pad(classNames[actual], nameWidth, left: true) + row.map { " " + pad(String($0), cellWidth) }.joined()
                    + "  " + pad(recall, 6))
        }
        return lines.joined(separator: "\n")
    }

    var heatmap: Heatmap {
        Heatmap(
            title: "", rowTitle: "actual class", columnTitle: "predicted class",
            rowNames: classNames, columnNames: classNames, counts: confusion)
    }

    /// `loss`, `accuracy`, `correct`, `count`, `classes`, `confusion` for `--json`.
    var jsonFields: [(String, JSONValue)] {
        [
            ("loss", .number(loss)), ("accuracy", .number(accuracy)), ("correct", .integer(correct)),
            ("count", .integer(count)),
            ("classes", .array(classNames.map { .string($0) })),
            ("confusion", .array(confusion.map { .array($0.map { .integer($0) }) }))
        ]
    }
}
