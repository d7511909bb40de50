import CommandLineOptions
import Foundation
import RNNKit

extension Forecaster {
    /// Checks that `series` has the columns this model forecasts.
    func check(_ series: ForecastingSeries) throws {
        guard series.columnNames == columns else {
            throw UsageError("\(series.source) has value columns \(series.columnNames), the model forecasts \(columns)")
        }
        if transform == .logDifference, let bad = series.values.firstIndex(where: { $0 <= 0 }) {
            throw UsageError(
                "\(series.source): row \(bad / columnCount + 1) holds \(series.values[bad]), but the model forecasts "
                    + "log differences of positive values"
            )
        }
    }
}

/// Timestamps as numbers for a chart's x axis: `1949-03` becomes 1949.17,
/// `2024-05-17` 2024.37, a plain number itself; anything else the row number.
func timeAxis(_ timestamps: [String]) -> (values: [Double], label: String) {
    func decimalYear(_ text: String) -> Double? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard (2...3).contains(parts.count), parts[0].count == 4, let year = Int(parts[0]), let month = Int(parts[1]),
            (1...12).contains(month)
        else { return nil }
        let day = parts.count == 3 ? Int(parts[2].prefix(2)) : 1
        guard let day, (1...31).contains(day) else { return nil }
        return Double(year) + (Double(month - 1) + Double(day - 1) / 31) / 12
    }
    if case let years = timestamps.compactMap(decimalYear), years.count == timestamps.count { return (years, "year") }
    if case let numbers = timestamps.compactMap({ Double($0) }), numbers.count == timestamps.count {
        return (numbers, "time")
    }
    return (timestamps.indices.map(Double.init), "row")
}

/// The `count` timestamps after a series' last ones: months after `YYYY-MM`,
/// days after `YYYY-MM-DD` (by the last gap in days), numbers by the last
/// difference; otherwise `+1`, `+2`, ….
func continuedTimestamps(after timestamps: [String], count: Int) -> [String] {
    guard let last = timestamps.last else { return (1..<(count + 1)).map { "+\($0)" } }
    let parts = last.split(separator: "-", omittingEmptySubsequences: false).map { Int($0) }
    if parts.count == 2, let year = parts[0], let month = parts[1], (1...12).contains(month), last.count == 7 {
        return (1..<(count + 1)).map { step in
            let index = year * 12 + month - 1 + step
            return String(format: "%04d-%02d", index / 12, index % 12 + 1)
        }
    }
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.timeZone = TimeZone(identifier: "UTC")
    formatter.dateFormat = "yyyy-MM-dd"
    if last.count == 10, let date = formatter.date(from: last) {
        let previous = timestamps.dropLast().last.flatMap { formatter.date(from: $0) }
        let gap = previous.map { max(86_400, (date.timeIntervalSince($0) / 86_400).rounded() * 86_400) } ?? 86_400
        return (1..<(count + 1)).map { formatter.string(from: date.addingTimeInterval(gap * Double($0))) }
    }
    if let value = Int(last) {
        let step = timestamps.dropLast().last.flatMap { Int($0) }.map { value - $0 } ?? 1
        return (1..<(count + 1)).map { String(value + step * $0) }
    }
    if let value = Double(last) {
        let step = timestamps.dropLast().last.flatMap { Double($0) }.map { value - $0 } ?? 1
        return (1..<(count + 1)).map { "\(value + step * Double($0))" }
    }
    return (1..<(count + 1)).map { "\(last)+\($0)" }
}
