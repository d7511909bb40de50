import Foundation

/// A small SVG heat map of counts, such as a confusion matrix: one square per
/// cell, shaded by its share of its row (so every class reads alike whatever
/// its size), with the count written inside.
struct Heatmap {
    var title: String
    var rowTitle: String
    var columnTitle: String
    var rowNames: [String]
    var columnNames: [String]
    /// `counts[row][column]`.
    var counts: [[Int]]

    func svg() -> String {
        let rows = rowNames.count, columns = columnNames.count
        let longest = (rowNames + columnNames).map(\.count).max() ?? 1
        let cell = min(48, max(12, 520 / Double(max(rows, columns, 1))))
        let fontSize = min(12, cell * 0.4)
        let labelWidth = min(160, Double(longest) * fontSize * 0.65 + 12)
        let left = 30 + labelWidth, top = 50 + labelWidth
        let width = left + Double(columns) * cell + 20, height = top + Double(rows) * cell + 20
        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \
            \(Int(width)) \(Int(height))" font-family="sans-serif" font-size="\(fontSize)">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(width / 2)" y="22" text-anchor="middle" font-size="15">\(escape(title))</text>
            <text x="\(left + Double(columns) * cell / 2)" y="42" text-anchor="middle" \
            font-size="12">\(escape(columnTitle))</text>
            <text transform="translate(16 \(top + Double(rows) * cell / 2)) rotate(-90)" text-anchor="middle" \
            font-size="12">\(escape(rowTitle))</text>

            """
        for (column, name) in columnNames.enumerated() {
            let x = left + (Double(column) + 0.5) * cell
            svg +=
                "<text transform=\"translate(\(x + fontSize * 0.35) \(top - 6)) rotate(-90)\">\(escape(name))</text>\n"
        }
        for (row, name) in rowNames.enumerated() {
            let y = top + (Double(row) + 0.5) * cell + fontSize * 0.35
            svg += "<text x=\"\(left - 6)\" y=\"\(y)\" text-anchor=\"end\">\(escape(name))</text>\n"
            let total = counts[row].reduce(0, +)
            for column in 0..<columns {
                let count = counts[row][column]
                let share = total > 0 ? Double(count) / Double(total) : 0
                let x = left + Double(column) * cell, cellTop = top + Double(row) * cell
                svg +=
                    "<rect x=\"\(x)\" y=\"\(cellTop)\" width=\"\(cell)\" height=\"\(cell)\" "
                    + "fill=\"\(Self.shade(share))\" stroke=\"#dddddd\"><title>\(escape(name)) → "
                    + "\(escape(columnNames[column])): \(count)</title></rect>\n"
                if count > 0 && cell >= 16 {
                    svg +=
                        "<text x=\"\(x + cell / 2)\" y=\"\(cellTop + cell / 2 + fontSize * 0.35)\" "
                        + "text-anchor=\"middle\" fill=\"\(share > 0.5 ? "white" : "black")\">\(count)</text>\n"
                }
            }
        }
        svg +=
            "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(Double(columns) * cell)\" height=\"\(Double(rows) * cell)\" "
            + "fill=\"none\" stroke=\"black\"/>\n"
        return svg + "</svg>\n"
    }

    /// White at 0, the palette's blue (#1f77b4) at 1.
    static func shade(_ share: Double) -> String {
        let target = (31.0, 119.0, 180.0)
        func channel(_ value: Double) -> Int { Int((255 - (255 - value) * min(max(share, 0), 1)).rounded()) }
        return String(format: "#%02x%02x%02x", channel(target.0), channel(target.1), channel(target.2))
    }
}
