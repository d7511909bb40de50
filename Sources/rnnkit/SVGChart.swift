import Foundation

/// A small SVG line chart: one or more series against a shared x axis, with
/// ticks, labels and a legend. Written atomically beside the model.
struct LineChart {
    struct Series {
        var name: String
        var points: [(x: Double, y: Double)]
        var color: String
    }

    var title: String
    var xLabel: String
    var yLabel: String
    var series: [Series]

    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd"]

    func svg(width: Double = 720, height: Double = 420) -> String {
        let margin = (left: 70.0, right: 20.0, top: 40.0, bottom: 55.0)
        let points = series.flatMap(\.points).filter { $0.x.isFinite && $0.y.isFinite }
        var xRange = (points.map(\.x).min() ?? 0, points.map(\.x).max() ?? 1)
        var yRange = (points.map(\.y).min() ?? 0, points.map(\.y).max() ?? 1)
        if xRange.1 <= xRange.0 { xRange.1 = xRange.0 + 1 }
        if yRange.1 <= yRange.0 { yRange = (yRange.0 - 0.5, yRange.1 + 0.5) }
        let plotWidth = width - margin.left - margin.right, plotHeight = height - margin.top - margin.bottom
        func x(_ value: Double) -> Double { margin.left + (value - xRange.0) / (xRange.1 - xRange.0) * plotWidth }
        func y(_ value: Double) -> Double { margin.top + (1 - (value - yRange.0) / (yRange.1 - yRange.0)) * plotHeight }
        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \
            \(Int(width)) \(Int(height))" font-family="sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(width / 2)" y="22" text-anchor="middle" font-size="15">\(escape(title))</text>

            """
        for tick in Self.ticks(yRange.0, yRange.1) {
            svg +=
                "<line x1=\"\(margin.left)\" y1=\"\(y(tick))\" x2=\"\(width - margin.right)\" y2=\"\(y(tick))\" "
                + "stroke=\"#e5e5e5\"/>\n"
            svg +=
                "<text x=\"\(margin.left - 6)\" y=\"\(y(tick) + 4)\" text-anchor=\"end\">\(Self.label(tick))</text>\n"
        }
        for tick in Self.ticks(xRange.0, xRange.1) {
            svg +=
                "<line x1=\"\(x(tick))\" y1=\"\(margin.top + plotHeight)\" x2=\"\(x(tick))\" "
                + "y2=\"\(margin.top + plotHeight + 5)\" stroke=\"black\"/>\n"
            svg +=
                "<text x=\"\(x(tick))\" y=\"\(margin.top + plotHeight + 18)\" "
                + "text-anchor=\"middle\">\(Self.label(tick))</text>\n"
        }
        svg +=
            "<rect x=\"\(margin.left)\" y=\"\(margin.top)\" width=\"\(plotWidth)\" height=\"\(plotHeight)\" "
            + "fill=\"none\" stroke=\"black\"/>\n"
        svg +=
            "<text x=\"\(margin.left + plotWidth / 2)\" y=\"\(height - 12)\" "
            + "text-anchor=\"middle\">\(escape(xLabel))</text>\n"
        svg +=
            "<text transform=\"translate(18 \(margin.top + plotHeight / 2)) rotate(-90)\" "
            + "text-anchor=\"middle\">\(escape(yLabel))</text>\n"
        for (index, line) in series.enumerated() {
            let path = line.points.filter { $0.x.isFinite && $0.y.isFinite }
                .map { String(format: "%.2f,%.2f", x($0.x), y($0.y)) }.joined(separator: " ")
            svg += "<polyline fill=\"none\" stroke=\"\(line.color)\" stroke-width=\"1.6\" points=\"\(path)\"/>\n"
            let legendY = margin.top + 14 + Double(index) * 16
            svg +=
                "<line x1=\"\(width - margin.right - 130)\" y1=\"\(legendY - 4)\" "
                + "x2=\"\(width - margin.right - 110)\" y2=\"\(legendY - 4)\" stroke=\"\(line.color)\" "
                + "stroke-width=\"2\"/>\n"
            svg += "<text x=\"\(width - margin.right - 105)\" y=\"\(legendY)\">\(escape(line.name))</text>\n"
        }
        return svg + "</svg>\n"
    }

    /// About five round tick values covering `low...high`.
    static func ticks(_ low: Double, _ high: Double) -> [Double] {
        let span = high - low
        let magnitude = pow(10, floor(log10(span / 5)))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { span / $0 <= 6 } ?? magnitude * 10
        var values: [Double] = []
        var tick = ceil(low / step) * step
        while tick <= high + step * 1e-9 {
            values.append(tick)
            tick += step
        }
        return values
    }

    static func label(_ value: Double) -> String {
        abs(value) >= 1e5 || (abs(value) < 1e-3 && value != 0)
            ? String(format: "%.2g", value) : String(format: "%g", (value * 1e6).rounded() / 1e6)
    }
}

/// Text as SVG (XML) character data: markup characters escaped, and the
/// control characters XML 1.0 cannot hold at all replaced with U+FFFD.
func escape(_ text: String) -> String {
    let printable = String(
        String.UnicodeScalarView(
            text.unicodeScalars.map { scalar in
                scalar.value < 0x20 && scalar != "\t" && scalar != "\n" && scalar != "\r" ? "\u{FFFD}" : scalar
            }))
    return printable.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
}
