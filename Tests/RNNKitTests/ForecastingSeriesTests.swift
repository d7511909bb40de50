import Foundation
import Testing

@testable import RNNKit

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

@Suite("Forecasting CSV reader")
struct ForecastingSeriesTests {
    private func parse(_ text: String, timestampColumn: String? = nil) throws(DatasetError) -> ForecastingSeries {
        try ForecastingSeries(bytes: Array(text.utf8), source: "s.csv", timestampColumn: timestampColumn)
    }

    /// Six rows of two columns: row r holds [r, 10 r].
    private func ramp() throws -> ForecastingSeries {
        try ForecastingSeries(
            timestamps: (0..<6).map { "t\($0)" }, columnNames: ["a", "b"],
            values: (0..<6).flatMap { [Float($0), Float(10 * $0)] })
    }

    // MARK: Real files

    @Test("Airline: 144 monthly passenger counts", .enabled(if: SampleData.has("forecasting/Airline.csv")))
    func airline() throws {
        let series = try ForecastingSeries(contentsOf: SampleData.url("forecasting/Airline.csv"))
        #expect(series.length == 144)
        #expect(series.timestampColumn == "Date")
        #expect(series.columnNames == ["Passengers"])
        #expect(series.timestamps.first == "1949-01" && series.timestamps.last == "1960-12")
        #expect(series.values.first == 112 && series.values.last == 432)

        let (train, test) = series.split(testCount: 24)
        #expect((train, test) == (0..<120, 120..<144))
        let scaled = try series.scaled(series.fitScaling(range: train))
        let batch = try scaled.windows(length: 12, horizon: 1, range: train)
        #expect((batch.count, batch.timeSteps) == (108, 12))
        let testBatch = try scaled.windows(length: 12, range: (test.lowerBound - 12)..<test.upperBound)
        #expect(testBatch.count == 24)
        let configuration = ModelConfiguration(
            cell: .lstm, input: .dense(features: 1), hiddenSize: 4, outputSize: 1, topology: .manyToOne)
        try batch.validate(for: configuration, needsTargets: true)
    }

    @Test("ShampooSales: 36 rows with a 'Time' column", .enabled(if: SampleData.has("forecasting/ShampooSales.csv")))
    func shampooSales() throws {
        let series = try ForecastingSeries(contentsOf: SampleData.url("forecasting/ShampooSales.csv"))
        #expect(series.length == 36)
        #expect(series.timestampColumn == "Time")
        #expect(series.columnNames == ["Sales"])
        #expect(series.values.first == 266.0 && series.values.last == 646.9)
    }

    // MARK: Parsing

    @Test("quoted fields: commas, escaped quotes and line breaks inside quotes")
    func quotedFields() throws {
        let text =
            "\"Date\",\"Sales, kUSD\",\"Units \"\"net\"\"\"\r\n"
            + "\"Jan 1, 2020\",1.5,\"2\"\r\n"
            + "\"Jan\n2, 2020\", 2.5 ,3\r\n"
            + "2020-01-03,3.5,4"
        let series = try parse(text)
        #expect(series.timestamps == ["Jan 1, 2020", "Jan\n2, 2020", "2020-01-03"])
        #expect(series.columnNames == ["Sales, kUSD", "Units \"net\""])
        #expect(series.values == [1.5, 2, 2.5, 3, 3.5, 4])
        // The quoted line break counts as a line: the appended record is line 6.
        #expect(throws: DatasetError.unexpected(path: "s.csv", line: 6, column: 12, expected: "a number", found: "x")) {
            try parse(text + "\n2020-01-04,x,5\n")
        }
    }

    @Test("a byte-order mark, blank lines, lone CR and a missing final line break are accepted")
    func lenientSyntax() throws {
        let series = try parse("\u{FEFF}Month,Value\r\n\r\n1949-01,1\r1949-02,2\n\n1949-03, 3")
        #expect(series.timestamps == ["1949-01", "1949-02", "1949-03"])
        #expect(series.values == [1, 2, 3])
        #expect(series.timestampColumn == "Month")
    }

    @Test("the timestamp column is found by name, else the first, unless named")
    func timestampColumn() throws {
        let named = try parse("id,value,Month\n1,2,2020-01\n")
        #expect(named.timestampColumn == "Month")
        #expect(named.columnNames == ["id", "value"])
        #expect(named.values == [1, 2])
        #expect(named.timestamps == ["2020-01"])

        let first = try parse("x,y\n1,2\n")
        #expect(first.timestampColumn == "x" && first.columnNames == ["y"] && first.timestamps == ["1"])

        let explicit = try parse("x,y\n1,2\n", timestampColumn: "y")
        #expect(explicit.columnNames == ["x"] && explicit.values == [1])
        #expect(throws: DatasetError.missingColumn(path: "s.csv", column: "when", available: ["x", "y"])) {
            try parse("x,y\n1,2\n", timestampColumn: "when")
        }
    }

    @Test(
        "every malformed-file error names what and where",
        arguments: [
            ("", DatasetError.emptyFile(path: "s.csv")),
            ("\n\r\n", .emptyFile(path: "s.csv")),
            (
                "Date\n2020\n",
                .unexpected(
                    path: "s.csv", line: 1, column: 1,
                    expected: "a header row naming a timestamp column and at least one value column", found: "Date")
            ),
            ("Date,V\n", .noData(path: "s.csv")),
            ("Date,V\n\n\n", .noData(path: "s.csv")),
            ("Date,V\n1,2,3\n", .raggedRow(path: "s.csv", line: 2, expected: 2, found: 3)),
            ("Date,V\n1,2\n\n1\n", .raggedRow(path: "s.csv", line: 4, expected: 2, found: 1)),
            ("Date,V\n1,2,\n", .raggedRow(path: "s.csv", line: 2, expected: 2, found: 3)),
            ("Date,V\n1,\n", .missingValue(path: "s.csv", line: 2, column: 3)),
            ("Date,V\n1, ? \n", .missingValue(path: "s.csv", line: 2, column: 3)),
            ("Date,V\n1,abc\n", .unexpected(path: "s.csv", line: 2, column: 3, expected: "a number", found: "abc")),
            (
                "Date,V\n1,\"1\"\"\"\n",
                .unexpected(path: "s.csv", line: 2, column: 3, expected: "a number", found: "1\"\"")
            ),
            ("Date,V\n1,NaN\n", .nonFiniteValue(path: "s.csv", line: 2, column: 3, found: "NaN")),
            ("Date,V\n1,-1e39\n", .nonFiniteValue(path: "s.csv", line: 2, column: 3, found: "-1e39")),
            (
                "Date,V\n\"1,2\n",
                .unexpected(
                    path: "s.csv", line: 2, column: 1,
                    expected: "a closing '\"' for the field opened here, before the end of the file", found: "")
            ),
            (
                "Date,V\n\"1\"x,2\n",
                .unexpected(
                    path: "s.csv", line: 2, column: 4, expected: "',' or the end of the line after a closing quote",
                    found: "x")
            )
        ] as [(String, DatasetError)])
    func malformed(_ text: String, _ expected: DatasetError) {
        #expect(throws: expected) { try parse(text) }
    }

    @Test("at most maxColumns columns; a long ragged row is counted, not stored")
    func columnLimit() throws {
        let wide = Array(repeating: "c", count: ForecastingSeries.maxColumns + 1).joined(separator: ",")
        #expect(
            throws: DatasetError.tooLarge(
                path: "s.csv", what: "columns in the header row", count: 65537, limit: 65536)
        ) {
            try parse(wide + "\n")
        }
        // The widest file allowed parses in linear time.
        let widest =
            Array(repeating: "c", count: ForecastingSeries.maxColumns).joined(separator: ",") + "\n"
            + Array(repeating: "1", count: ForecastingSeries.maxColumns).joined(separator: ",") + "\n"
        #expect(try parse(widest).columnCount == ForecastingSeries.maxColumns - 1)
        #expect(throws: DatasetError.raggedRow(path: "s.csv", line: 2, expected: 2, found: 100_001)) {
            try parse("Date,V\n" + String(repeating: ",", count: 100_000) + "\n")
        }
    }

    @Test("bytes that are not UTF-8 are reported by offset")
    func notUTF8() {
        #expect(throws: DatasetError.notUTF8(path: "s.csv", byteOffset: 8)) {
            try ForecastingSeries(bytes: Array("Date,V\n1".utf8) + [0xC3, 0x28] + Array(",2\n".utf8), source: "s.csv")
        }
    }

    @Test("arrays are checked as a file would be")
    func memberwise() {
        #expect(throws: DatasetError.invalidArgument(name: "value count", value: "3", expected: "2 rows x 2 columns")) {
            try ForecastingSeries(timestamps: ["a", "b"], columnNames: ["x", "y"], values: [1, 2, 3])
        }
        #expect(throws: DatasetError.invalidArgument(name: "values[1]", value: "nan", expected: "a finite number")) {
            try ForecastingSeries(timestamps: ["a", "b"], columnNames: ["x"], values: [1, .nan])
        }
    }

    // MARK: Windows

    @Test("windows: inputs [N, T, C], targets the next H steps [N, H * C]")
    func windows() throws {
        let series = try ramp()
        let batch = try series.windows(length: 2, horizon: 2)
        #expect((batch.count, batch.timeSteps) == (3, 2))
        #expect(batch.lengths == nil)
        guard case .features(let inputs) = batch.inputs, case .values(let targets) = batch.targets else {
            Issue.record("wrong batch kinds")
            return
        }
        #expect(inputs == [0, 0, 1, 10, /**/ 1, 10, 2, 20, /**/ 2, 20, 3, 30])
        #expect(targets == [2, 20, 3, 30, /**/ 3, 30, 4, 40, /**/ 4, 40, 5, 50])
        let configuration = ModelConfiguration(
            cell: .gru, input: .dense(features: 2), hiddenSize: 3, outputSize: 4, topology: .manyToOne)
        try batch.validate(for: configuration, needsTargets: true)

        // Windows stay inside the range.
        let inner = try series.windows(length: 2, horizon: 1, range: 2..<5)
        guard case .features(let innerInputs) = inner.inputs, case .values(let innerTargets) = inner.targets else {
            Issue.record("wrong batch kinds")
            return
        }
        #expect(inner.count == 1 && innerInputs == [2, 20, 3, 30] && innerTargets == [4, 40])
    }

    @Test("windows refuse too few rows and bad arguments")
    func windowErrors() throws {
        let series = try ramp()
        #expect(throws: DatasetError.tooFewRows(source: "<memory>", rows: 3, needed: 4)) {
            try series.windows(length: 3, horizon: 1, range: 0..<3)
        }
        #expect(throws: DatasetError.tooFewRows(source: "<memory>", rows: 6, needed: .max)) {
            try series.windows(length: .max, horizon: 1)
        }
        #expect(throws: DatasetError.invalidArgument(name: "window length", value: "0", expected: "at least 1")) {
            try series.windows(length: 0)
        }
        #expect(throws: DatasetError.invalidArgument(name: "horizon", value: "-1", expected: "at least 1")) {
            try series.windows(length: 1, horizon: -1)
        }
        #expect(throws: DatasetError.invalidArgument(name: "range", value: "0..<7", expected: "rows within 0..<6")) {
            try series.windows(length: 1, range: 0..<7)
        }
        #expect(throws: DatasetError.invalidArgument(name: "range", value: "-1..<3", expected: "rows within 0..<6")) {
            try series.windows(length: 1, range: -1..<3)
        }
    }

    @Test("split keeps the last rows for testing, clamped")
    func split() throws {
        let series = try ramp()
        #expect(series.split(testCount: 2) == (0..<4, 4..<6))
        #expect(series.split(testCount: 10) == (0..<0, 0..<6))
        #expect(series.split(testCount: -1) == (0..<6, 6..<6))
    }

    // MARK: Scaling

    @Test("scaling is fitted on the training range only and inverts exactly enough")
    func scaling() throws {
        let series = try ramp()
        let scaling = series.fitScaling(range: 0..<4)
        #expect(scaling.mean == [1.5, 15])
        #expect(abs(scaling.deviation[0] - Float(1.25.squareRoot())) < 1e-6)
        let scaled = try series.scaled(scaling)
        #expect(abs(scaled.values[0] + 1.5 / Float(1.25.squareRoot())) < 1e-6)
        #expect(scaled.timestamps == series.timestamps && scaled.columnNames == series.columnNames)
        let restored = try scaled.unscaled(scaling)
        #expect(zip(restored.values, series.values).allSatisfy { abs($0 - $1) < 1e-5 })
        // Predictions [N, H * C] unscale with the same scaling.
        #expect(try scaling.unscale([0, 0, 0, 0]) == [1.5, 15, 1.5, 15])
        #expect(throws: DatasetError.featureCountMismatch(source: "<memory>", features: 2, scalingFeatures: 1)) {
            try series.scaled(FeatureScaling(mean: [0], deviation: [1]))
        }
        // An empty or out-of-range fit is the identity, never a trap.
        #expect(series.fitScaling(range: 10..<20) == (try FeatureScaling(mean: [0, 0], deviation: [1, 1])))
    }

    // MARK: Writing

    @Test("forecasts are written atomically and read back")
    func writeCSV() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("forecast.csv")
        try ForecastingSeries.writeCSV(
            to: url, timestamps: ["Jan 1, 2020", "2020-01-02"], columnNames: ["Sales"],
            actual: [1.5, 2], predicted: [1.25, 0.1])
        #expect(
            try String(contentsOf: url, encoding: .utf8)
                == "timestamp,Sales_actual,Sales_predicted\n\"Jan 1, 2020\",1.5,1.25\n2020-01-02,2.0,0.1\n")
        let back = try ForecastingSeries(contentsOf: url)
        #expect(back.timestamps == ["Jan 1, 2020", "2020-01-02"])
        #expect(back.values == [1.5, 1.25, 2, 0.1])

        // Replacing it leaves one file; without actual values those fields are empty.
        try ForecastingSeries.writeCSV(
            to: url, timestamps: ["t"], columnNames: ["a", "b"], actual: nil, predicted: [1, 2])
        #expect(
            try String(contentsOf: url, encoding: .utf8)
                == "timestamp,a_actual,a_predicted,b_actual,b_predicted\nt,,1.0,,2.0\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["forecast.csv"])
    }

    @Test("a failed or refused write leaves nothing behind")
    func failedWrite() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let orphan = directory.appendingPathComponent("no/such/dir/f.csv")
        #expect(throws: DatasetError.io(path: orphan.path, operation: "create", code: ENOENT)) {
            try ForecastingSeries.writeCSV(
                to: orphan, timestamps: ["t"], columnNames: ["a"], actual: nil, predicted: [1])
        }
        let url = directory.appendingPathComponent("f.csv")
        #expect(
            throws: DatasetError.invalidArgument(
                name: "predicted value count", value: "1", expected: "2 rows x 1 columns")
        ) {
            try ForecastingSeries.writeCSV(
                to: url, timestamps: ["t", "u"], columnNames: ["a"], actual: nil, predicted: [1])
        }
        #expect(
            throws: DatasetError.invalidArgument(
                name: "actual value count", value: "3", expected: "1 rows x 1 columns")
        ) {
            try ForecastingSeries.writeCSV(
                to: url, timestamps: ["t"], columnNames: ["a"], actual: [1, 2, 3], predicted: [1])
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)
    }

    // MARK: Robustness

    @Test("random mutations of a valid file parse or throw, never trap")
    func fuzz() {
        let original = Array(
            "\u{FEFF}Month,\"Sales, k\",Units\r\n\"Jan, 1\",1.5,2\r\n1949-02,-2e1,\"3\"\n1949-03, 4 ,5\n".utf8)
        expectParsesOrRefuses(original, seed: 0xC5) { bytes in
            let series = try ForecastingSeries(bytes: bytes, source: "fuzz.csv")
            #expect(series.columnCount >= 1 && series.length >= 1)
            #expect(series.values.count == series.length * series.columnCount)
            #expect(series.values.allSatisfy { $0.isFinite })
            _ = try? series.windows(length: 1)
        }
    }

    /// Each file under Tests/Fixtures/malformed/csv, and the error it must give.
    @Test("malformed fixture files are refused with their specific errors")
    func malformedFixtures() throws {
        let folder = SampleData.malformed.appendingPathComponent("csv")
        let expected: [String: (String) -> DatasetError] = [
            "ragged-row": { .raggedRow(path: $0, line: 4, expected: 2, found: 3) },
            "unterminated-quote": {
                .unexpected(
                    path: $0, line: 3, column: 1,
                    expected: "a closing '\"' for the field opened here, before the end of the file", found: "")
            },
            "text-after-quote": {
                .unexpected(
                    path: $0, line: 2, column: 11, expected: "',' or the end of the line after a closing quote",
                    found: "a")
            },
            "not-a-number": { .unexpected(path: $0, line: 3, column: 9, expected: "a number", found: "1,234") },
            "missing-value": { .missingValue(path: $0, line: 4, column: 9) },
            "infinite-value": { .nonFiniteValue(path: $0, line: 2, column: 9, found: "inf") },
            "header-only": { .noData(path: $0) },
            "utf16": { .notUTF8(path: $0, byteOffset: 0) }
        ]
        try replayMalformedFixtures(in: folder, extension: ".csv", expected: expected) { url in
            _ = try ForecastingSeries(contentsOf: url)
        }
    }
}
