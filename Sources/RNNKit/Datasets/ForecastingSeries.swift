import Foundation

/// A multivariate time series read from a CSV file, for forecasting: a
/// timestamp column kept as text and one or more numeric value columns.
///
/// ```
/// Month,Passengers
/// 1949-01,112
/// 1949-02,118
/// ```
///
/// The file is RFC 4180 CSV: a header row naming the columns, then one row
/// per time step, each with as many fields as the header. Fields may be
/// quoted (`"a, b"`, with `""` for a quote inside) and quoted fields may span
/// lines. CR LF, LF and lone CR line endings, a trailing line break, blank
/// lines and a leading byte-order mark are accepted; spaces around numbers
/// are ignored.
///
/// The timestamp column is, unless named explicitly, the first column whose
/// name contains (ignoring case) `date`, `time`, `month`, `year`, `week`,
/// `day`, `quarter` or `period`; failing that, the first column. Every other
/// column holds values: finite numbers, no gaps. An empty field or `?` is a
/// missing value and is refused with its position, as are NaN and infinities.
/// At most ``maxColumns`` columns.
///
/// ```swift
/// let series = try ForecastingSeries(contentsOf: airlineURL)
/// let (train, test) = series.split(testCount: 24)
/// let scaling = series.fitScaling(range: train)
/// let scaled = try series.scaled(scaling)
/// let trainBatch = try scaled.windows(length: 12, horizon: 1, range: train)
/// // Test windows may read the last 12 training steps as input:
/// let testBatch = try scaled.windows(length: 12, horizon: 1, range: (test.lowerBound - 12)..<test.upperBound)
/// ```
public struct ForecastingSeries: Sendable, Equatable {
    /// The file's path, or the name given for data in memory.
    public let source: String
    /// The name of the timestamp column.
    public let timestampColumn: String
    /// Each row's timestamp, as written in the file.
    public let timestamps: [String]
    /// The value columns' names, in file order.
    public let columnNames: [String]
    /// The values, `[length, columnCount]` row-major.
    public let values: [Float]

    /// The number of rows (time steps).
    public var length: Int { timestamps.count }
    /// The number of value columns.
    public var columnCount: Int { columnNames.count }

    /// Reads a CSV file.
    ///
    /// - Parameters:
    ///   - url: The file.
    ///   - timestampColumn: The timestamp column's name; if `nil`, chosen by
    ///     name as described above.
    /// - Throws: ``DatasetError`` naming the first problem and its position.
    public init(contentsOf url: URL, timestampColumn: String? = nil) throws(DatasetError) {
        try self.init(bytes: _readDataFile(url), source: url.path, timestampColumn: timestampColumn)
    }

    /// Parses the bytes of a CSV file; `source` names it in errors.
    public init(bytes: [UInt8], source: String, timestampColumn: String? = nil) throws(DatasetError) {
        let text = try _TextBytes(bytes, path: source)
        var reader = _CSVReader(text: text)
        var fields: [_CSVReader.Field] = []

        guard let (_, columns) = try reader.nextRecord(into: &fields, limit: Self.maxColumns) else {
            throw .emptyFile(path: source)
        }
        guard columns <= Self.maxColumns else {
            throw .tooLarge(path: source, what: "columns in the header row", count: columns, limit: Self.maxColumns)
        }
        let header = fields.map { reader.string($0) }
        let headerLine = reader.line(of: fields[0])
        guard header.count >= 2 else {
            throw .unexpected(
                path: source, line: headerLine.line, column: headerLine.column,
                expected: "a header row naming a timestamp column and at least one value column",
                found: text.excerpt(fields[0].content))
        }
        let timeIndex: Int
        if let timestampColumn {
            guard let index = header.firstIndex(of: timestampColumn) else {
                throw .missingColumn(path: source, column: timestampColumn, available: header)
            }
            timeIndex = index
        } else {
            timeIndex = Self.timestampColumnIndex(in: header)
        }

        var timestamps: [String] = []
        var values: [Float] = []
        while let (line, fieldCount) = try reader.nextRecord(into: &fields, limit: header.count) {
            guard fieldCount == header.count else {
                throw .raggedRow(path: source, line: line, expected: header.count, found: fieldCount)
            }
            for (index, field) in fields.enumerated() {
                if index == timeIndex {
                    timestamps.append(reader.string(field))
                    continue
                }
                let token = field.escapedQuotes ? field.content : text.trimmed(field.content)
                let number = text.number(token)
                if case .value(let value) = number {
                    values.append(value)
                    continue
                }
                // Columns are counted only for an error: counting every field's would be quadratic in the row.
                let position = reader.line(of: field)
                switch number {
                case .value:
                    break
                case .missing:
                    throw .missingValue(path: source, line: position.line, column: position.column)
                case .nonFinite:
                    throw .nonFiniteValue(
                        path: source, line: position.line, column: position.column, found: text.excerpt(token))
                case .notANumber:
                    throw .unexpected(
                        path: source, line: position.line, column: position.column,
                        expected: "a number", found: text.excerpt(token))
                }
            }
        }
        guard !timestamps.isEmpty else { throw .noData(path: source) }

        self.source = source
        self.timestampColumn = header[timeIndex]
        self.timestamps = timestamps
        self.columnNames = header.enumerated().filter { $0.offset != timeIndex }.map(\.element)
        self.values = values
    }

    /// A series from arrays.
    ///
    /// - Parameters:
    ///   - timestamps: One per row, at least one row.
    ///   - columnNames: The value columns, at least one.
    ///   - values: `[timestamps.count, columnNames.count]` row-major, all finite.
    /// - Throws: ``DatasetError/invalidArgument(name:value:expected:)`` if
    ///   the counts disagree or a value is not finite.
    public init(
        timestamps: [String], columnNames: [String], values: [Float], timestampColumn: String = "timestamp",
        source: String = "<memory>"
    ) throws(DatasetError) {
        guard !timestamps.isEmpty, !columnNames.isEmpty else {
            throw .invalidArgument(
                name: "series shape", value: "\(timestamps.count) x \(columnNames.count)",
                expected: "at least one row and one column")
        }
        let (expected, overflow) = timestamps.count.multipliedReportingOverflow(by: columnNames.count)
        guard !overflow, values.count == expected else {
            throw .invalidArgument(
                name: "value count", value: "\(values.count)",
                expected: "\(timestamps.count) rows x \(columnNames.count) columns")
        }
        if let bad = values.firstIndex(where: { !$0.isFinite }) {
            throw .invalidArgument(name: "values[\(bad)]", value: "\(values[bad])", expected: "a finite number")
        }
        self.source = source
        self.timestampColumn = timestampColumn
        self.timestamps = timestamps
        self.columnNames = columnNames
        self.values = values
    }

    /// The same series with other values, already checked.
    private init(_ other: ForecastingSeries, values: [Float]) {
        source = other.source
        timestampColumn = other.timestampColumn
        timestamps = other.timestamps
        columnNames = other.columnNames
        self.values = values
    }

    /// The column taken for timestamps when none is named.
    static func timestampColumnIndex(in header: [String]) -> Int {
        let words = ["date", "time", "month", "year", "week", "day", "quarter", "period"]
        return header.firstIndex { name in
            let lowered = name.lowercased()
            return words.contains { lowered.contains($0) }
        } ?? 0
    }

    // MARK: Windows

    /// The most columns a file may have, timestamps included.
    public static let maxColumns = 1 << 16

    /// The most values (inputs and targets together) ``windows(length:horizon:range:)``
    /// builds: 2^30 floats, 4 GiB.
    public static let maxWindowValues = 1 << 30

    /// Sliding windows for many-to-one regression: every `length` consecutive
    /// rows of `range` as inputs, the next `horizon` rows as targets.
    ///
    /// Window `n` starts at row `range.lowerBound + n` and reads rows up to
    /// `range.lowerBound + n + length + horizon - 1`; windows never read
    /// outside `range`. Pass a range that starts `length` rows before a test
    /// range to get a target for every test step.
    ///
    /// - Parameters:
    ///   - length: Input steps per window, T ≥ 1.
    ///   - horizon: Steps to predict, H ≥ 1.
    ///   - range: The rows to use; all rows if `nil`.
    /// - Returns: `count` N = `range.count - length - horizon + 1`, inputs
    ///   `.features` `[N, T, columns]`, targets `.values` `[N, H * columns]`
    ///   (step-major: the next step's columns, then the one after).
    /// - Throws: ``DatasetError/tooFewRows(source:rows:needed:)`` if `range`
    ///   holds fewer than `length + horizon` rows;
    ///   ``DatasetError/invalidArgument(name:value:expected:)`` for a
    ///   non-positive length or horizon, or a range outside the series;
    ///   ``DatasetError/tooLarge(path:what:count:limit:)`` beyond ``maxWindowValues``.
    public func windows(length: Int, horizon: Int = 1, range: Range<Int>? = nil) throws(DatasetError) -> SequenceBatch {
        let range = range ?? 0..<self.length
        guard length >= 1 else {
            throw .invalidArgument(name: "window length", value: "\(length)", expected: "at least 1")
        }
        guard horizon >= 1 else { throw .invalidArgument(name: "horizon", value: "\(horizon)", expected: "at least 1") }
        try checkRange(range)
        let (needed, overflow) = length.addingReportingOverflow(horizon)
        guard !overflow, range.count >= needed else {
            throw .tooFewRows(source: source, rows: range.count, needed: overflow ? .max : needed)
        }
        let count = range.count - needed + 1
        let columns = columnCount
        let (inputCount, overflow1) = count.multipliedReportingOverflow(by: length * columns)
        let (targetCount, overflow2) = count.multipliedReportingOverflow(by: horizon * columns)
        guard !overflow1, !overflow2, inputCount <= Self.maxWindowValues - targetCount else {
            throw .tooLarge(
                path: source, what: "values in \(count) windows of \(length) + \(horizon) steps x \(columns) columns",
                count: overflow1 || overflow2 ? .max : inputCount + targetCount, limit: Self.maxWindowValues)
        }
        var inputs: [Float] = []
        inputs.reserveCapacity(inputCount)
        var targets: [Float] = []
        targets.reserveCapacity(targetCount)
        for start in range.lowerBound..<(range.lowerBound + count) {
            inputs.append(contentsOf: values[(start * columns)..<((start + length) * columns)])
            targets.append(contentsOf: values[((start + length) * columns)..<((start + length + horizon) * columns)])
        }
        return SequenceBatch(count: count, timeSteps: length, inputs: .features(inputs), targets: .values(targets))
    }

    /// The first rows for training and the last `testCount` for testing.
    /// `testCount` is clamped to `0...length`.
    public func split(testCount: Int) -> (train: Range<Int>, test: Range<Int>) {
        let boundary = length - min(max(testCount, 0), length)
        return (0..<boundary, boundary..<length)
    }

    // MARK: Scaling

    /// Each column's mean and standard deviation over the rows of `range`
    /// (clamped to the series): fit it on the training range only, so that
    /// nothing about the test period leaks into training.
    public func fitScaling(range: Range<Int>) -> FeatureScaling {
        let rows = range.clamped(to: 0..<length)
        let columns = columnCount
        return FeatureScaling._fit(features: columns) { visit in
            for position in (rows.lowerBound * columns)..<(rows.upperBound * columns) {
                visit(position % columns, values[position])
            }
        }
    }

    /// The series with every column scaled, `(value - mean) / deviation`.
    ///
    /// - Throws: ``DatasetError/featureCountMismatch(source:features:scalingFeatures:)``
    ///   if `scaling` was fitted on another number of columns.
    public func scaled(_ scaling: FeatureScaling) throws(DatasetError) -> ForecastingSeries {
        try checkColumns(scaling)
        return ForecastingSeries(self, values: try scaling.scale(values))
    }

    /// The inverse of ``scaled(_:)``. For a model's predictions (targets of
    /// ``windows(length:horizon:range:)``, innermost dimension the columns),
    /// use ``FeatureScaling/unscale(_:)``.
    public func unscaled(_ scaling: FeatureScaling) throws(DatasetError) -> ForecastingSeries {
        try checkColumns(scaling)
        return ForecastingSeries(self, values: try scaling.unscale(values))
    }

    private func checkColumns(_ scaling: FeatureScaling) throws(DatasetError) {
        guard scaling.features == columnCount else {
            throw .featureCountMismatch(source: source, features: columnCount, scalingFeatures: scaling.features)
        }
    }

    private func checkRange(_ range: Range<Int>) throws(DatasetError) {
        guard range.lowerBound >= 0, range.upperBound <= length else {
            throw .invalidArgument(name: "range", value: "\(range)", expected: "rows within 0..<\(length)")
        }
    }

    // MARK: Writing forecasts

    /// Writes forecasts as CSV: a timestamp column, then for each value column
    /// `<name>_actual` and `<name>_predicted`.
    ///
    /// The file is replaced atomically: written to a temporary file in the
    /// same directory, flushed to disk, then renamed over `url`; on failure
    /// `url` is untouched and no temporary file is left behind. Fields that
    /// need it are quoted; numbers are written in the shortest form that reads
    /// back exactly.
    ///
    /// - Parameters:
    ///   - url: The file to write.
    ///   - timestamps: One per row.
    ///   - timestampColumn: The first column's name.
    ///   - columnNames: The value columns, C of them.
    ///   - actual: The observed values `[rows, C]`, or `nil` where there are
    ///     none (the actual columns are then left empty).
    ///   - predicted: The forecasts `[rows, C]`, in data units (see
    ///     ``FeatureScaling/unscale(_:)``).
    /// - Throws: ``DatasetError/invalidArgument(name:value:expected:)`` if the
    ///   counts disagree, ``DatasetError/io(path:operation:code:)`` if writing fails.
    public static func writeCSV(
        to url: URL, timestamps: [String], timestampColumn: String = "timestamp", columnNames: [String],
        actual: [Float]?, predicted: [Float]
    ) throws(DatasetError) {
        let rows = timestamps.count
        let columns = columnNames.count
        guard columns >= 1 else {
            throw .invalidArgument(name: "column count", value: "0", expected: "at least one value column")
        }
        let (expected, overflow) = rows.multipliedReportingOverflow(by: columns)
        guard !overflow, predicted.count == expected else {
            throw .invalidArgument(
                name: "predicted value count", value: "\(predicted.count)",
                expected: "\(rows) rows x \(columns) columns")
        }
        if let actual, actual.count != expected {
            throw .invalidArgument(
                name: "actual value count", value: "\(actual.count)",
                expected: "\(rows) rows x \(columns) columns")
        }

        var text =
            ([timestampColumn] + columnNames.flatMap { ["\($0)_actual", "\($0)_predicted"] })
            .map(quotedField).joined(separator: ",") + "\n"
        for row in 0..<rows {
            text += quotedField(timestamps[row])
            for column in 0..<columns {
                let index = row * columns + column
                text += "," + (actual.map { "\($0[index])" } ?? "") + ",\(predicted[index])"
            }
            text += "\n"
        }
        do {
            try writeFileAtomically(Array(text.utf8), to: url)
        } catch let SafetensorsError.io(path, operation, code) {
            throw .io(path: path, operation: operation, code: code)
        } catch {
            throw .io(path: url.path, operation: "write", code: EIO)
        }
    }

    /// A CSV field, quoted if it holds a comma, quote, line break or edge space.
    private static func quotedField(_ field: String) -> String {
        let needsQuotes =
            field.contains { $0 == "," || $0 == "\"" || $0.isNewline }
            || field.first == " " || field.last == " "
        return needsQuotes ? "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : field
    }
}
