import Foundation
import Testing

@testable import RNNKit

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

// MARK: - Helpers shared by the data set tests

/// The sample data sets in `<repository>/../shared/datasets`, and the
/// malformed fixtures in `Tests/Fixtures/malformed`.
enum SampleData {
    /// Three levels up from this file: `<repository>/Tests/RNNKitTests/<file>`.
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let directory = repository.deletingLastPathComponent().appendingPathComponent("shared/datasets")
    static let malformed = repository.appendingPathComponent("Tests/Fixtures/malformed")

    static func url(_ relativePath: String) -> URL { directory.appendingPathComponent(relativePath) }

    /// Whether a sample file is there; tests that read one are skipped without it.
    static func has(_ relativePath: String) -> Bool {
        FileManager.default.isReadableFile(atPath: url(relativePath).path)
    }
}

/// Writes `bytes` to `name` in `directory`.
func writeDataFile(_ name: String, _ bytes: [UInt8], in directory: URL) throws -> URL {
    let url = directory.appendingPathComponent(name)
    try Data(bytes).write(to: url)
    return url
}

/// Random small edits of a valid file, seeded, for the parsers' fuzz tests.
struct ByteMutator {
    var generator: SeededGenerator
    /// Bytes that mean something to one of the formats, and some that break UTF-8.
    static let interesting: [UInt8] =
        Array(":,\n\r@#?\" -.e019nai".utf8) + [0xFF, 0xC3, 0xA9, 0x80, 0xEF, 0xBB, 0xBF, 0x00]

    init(seed: UInt64) { generator = SeededGenerator(seed: seed) }

    private mutating func below(_ bound: Int) -> Int { bound <= 0 ? 0 : Int(generator.next() % UInt64(bound)) }

    private mutating func byte() -> UInt8 {
        below(4) == 0 ? UInt8(truncatingIfNeeded: generator.next()) : Self.interesting[below(Self.interesting.count)]
    }

    /// `bytes` with one to four random edits.
    mutating func mutate(_ bytes: [UInt8]) -> [UInt8] {
        var result = bytes
        for _ in 0...below(4) {
            let position = below(result.count + 1)
            switch below(6) {
            case 0 where position < result.count: result[position] = byte()
            case 1: result.insert(byte(), at: position)
            case 2:
                let end = min(result.count, position + 1 + below(8))
                result.removeSubrange(position..<end)
            case 3:
                let end = min(result.count, position + 1 + below(40))
                let copy = Array(result[position..<end])
                result.insert(contentsOf: copy, at: below(result.count + 1))
            case 4: result.removeSubrange(position...)
            default: result.insert(contentsOf: Array(repeating: byte(), count: 1 + below(3)), at: position)
            }
        }
        return result
    }
}

// MARK: - Tests

@Suite("UCR/UEA .ts reader")
struct TimeSeriesClassificationTests {
    private func parse(
        _ text: String, classNames: [String]? = nil, missingValues: TimeSeriesClassificationSet.MissingValues = .reject
    ) throws(DatasetError) -> TimeSeriesClassificationSet {
        try TimeSeriesClassificationSet(
            bytes: Array(text.utf8), source: "t.ts", classNames: classNames, missingValues: missingValues)
    }

    private static let header =
        "@problemName Toy\n@univariate false\n@dimensions 2\n@equalLength false\n"
        + "@classLabel true a b c\n@data\n"

    // MARK: Real files

    @Test(
        "JapaneseVowels: 12 dimensions, 9 classes, variable lengths",
        .enabled(
            if: SampleData.has("ucr-uea/JapaneseVowels_TRAIN.ts") && SampleData.has("ucr-uea/JapaneseVowels_TEST.ts")))
    func japaneseVowels() throws {
        let train = try TimeSeriesClassificationSet(contentsOf: SampleData.url("ucr-uea/JapaneseVowels_TRAIN.ts"))
        #expect(train.name == "JapaneseVowels")
        #expect(train.dimensions == 12)
        #expect(train.classNames == (1...9).map(String.init))
        #expect(train.count == 270)
        #expect(train.maxLength == 26)
        #expect(train.lengths.min() == 7)
        #expect(train.values.count == 270 * 26 * 12)
        // 30 utterances per speaker.
        #expect((0..<9).allSatisfy { label in train.labels.filter { $0 == label }.count == 30 })
        // The first case's first step, dimensions 1 and 2, as in the file.
        #expect(train.values[0] == 1.860936)
        #expect(train.values[1] == -0.207383)
        #expect(train.values[12] == 1.891651)
        // Padding is zero.
        let firstLength = Int(train.lengths[0])
        #expect(train.values[(firstLength * 12)..<(26 * 12)].allSatisfy { $0 == 0 })

        let batch = train.batch()
        #expect(batch.lengths == train.lengths)
        #expect(batch.timeSteps == 26)
        let configuration = ModelConfiguration(
            cell: .gru, input: .dense(features: 12), hiddenSize: 8, outputSize: 9, topology: .manyToOne)
        try batch.validate(for: configuration, needsTargets: true)

        let test = try TimeSeriesClassificationSet(
            contentsOf: SampleData.url("ucr-uea/JapaneseVowels_TEST.ts"), classNames: train.classNames)
        #expect(test.count == 370)
        #expect(test.maxLength <= 29)
        #expect(test.classNames == train.classNames)
    }

    @Test(
        "GunPoint: 50 train and 150 test cases of length 150, 2 classes",
        .enabled(if: SampleData.has("ucr-uea/GunPoint_TRAIN.ts") && SampleData.has("ucr-uea/GunPoint_TEST.ts")))
    func gunPoint() throws {
        let train = try TimeSeriesClassificationSet(contentsOf: SampleData.url("ucr-uea/GunPoint_TRAIN.ts"))
        let test = try TimeSeriesClassificationSet(
            contentsOf: SampleData.url("ucr-uea/GunPoint_TEST.ts"), classNames: train.classNames)
        #expect((train.count, test.count) == (50, 150))
        #expect((train.maxLength, test.maxLength) == (150, 150))
        #expect(train.dimensions == 1)
        #expect(train.classNames == ["1", "2"])
        #expect(train.values[0] == -0.6478854)
        #expect(train.labels[0] == 1)
        #expect(train.batch().lengths == nil)
        #expect(Set(test.labels) == [0, 1])
    }

    @Test(
        "ItalyPowerDemand: 67 train and 1029 test cases of length 24",
        .enabled(
            if: SampleData.has("ucr-uea/ItalyPowerDemand_TRAIN.ts")
                && SampleData.has("ucr-uea/ItalyPowerDemand_TEST.ts")))
    func italyPowerDemand() throws {
        let train = try TimeSeriesClassificationSet(contentsOf: SampleData.url("ucr-uea/ItalyPowerDemand_TRAIN.ts"))
        let test = try TimeSeriesClassificationSet(
            contentsOf: SampleData.url("ucr-uea/ItalyPowerDemand_TEST.ts"), classNames: train.classNames)
        #expect((train.count, test.count) == (67, 1029))
        #expect((train.maxLength, test.maxLength) == (24, 24))
        #expect(test.labels[0] == 1)  // the first test case is class "2"

        // Scaling fitted on the training set standardizes it.
        let scaling = train.fitScaling()
        let scaled = try train.normalized(using: scaling)
        let mean = scaled.values.reduce(0, +) / Float(scaled.values.count)
        let variance = scaled.values.map { $0 * $0 }.reduce(0, +) / Float(scaled.values.count)
        #expect(abs(mean) < 1e-5)
        #expect(abs(variance - 1) < 1e-4)
        _ = try test.normalized(using: scaling)
    }

    // MARK: Parsing

    @Test("variable lengths: short dimensions hold their last value, cases are zero padded")
    func padding() throws {
        let set = try parse(Self.header + "1,2,3:4,5:a\n6:7:c\n")
        #expect(set.name == "Toy")
        #expect((set.count, set.maxLength, set.dimensions) == (2, 3, 2))
        #expect(set.lengths == [3, 1])
        #expect(set.labels == [0, 2])
        #expect(set.values == [1, 4, 2, 5, 3, 5, 6, 7, 0, 0, 0, 0])
        let batch = set.batch()
        #expect(batch.lengths == [3, 1])
        guard case .features(let features) = batch.inputs, case .classes(let classes) = batch.targets else {
            Issue.record("wrong batch kinds")
            return
        }
        #expect(features == set.values)
        #expect(classes == [0, 2])
    }

    @Test("CR LF, a byte-order mark, blank lines, comments and spaces change nothing")
    func lenientSyntax() throws {
        let plain = try parse(Self.header + "1,2,3:4,5:a\n6:7:c\n")
        let messy =
            "\u{FEFF}# comment\r\n\r\n@PROBLEMNAME Toy\r\n@Univariate FALSE\r\n  @dimensions 2  \r\n"
            + "@equallength false\r\n@classLabel true a b c\r\n# more\r\n@data\r\n\r\n 1 , 2,3 :4,5: a \r\n\t\r\n6:7:c"
        let set = try parse(messy)
        #expect(set.values == plain.values)
        #expect(set.labels == plain.labels)
        #expect(set.name == plain.name)
    }

    @Test("the name falls back to the file name; univariate files need no @dimensions")
    func defaults() throws {
        let set = try TimeSeriesClassificationSet(
            bytes: Array("@classLabel true x y\n@data\n1,2:y\n3,4:x\n".utf8), source: "/tmp/Some_TRAIN.ts")
        #expect(set.name == "Some_TRAIN")
        #expect(set.dimensions == 1)
        #expect(set.values == [1, 2, 3, 4])
        #expect(set.labels == [1, 0])
    }

    @Test("a test set read with the training classes uses their indices")
    func classOrder() throws {
        let test = try parse(Self.header + "1:2:c\n3:4:a\n", classNames: ["c", "b", "a"])
        #expect(test.classNames == ["c", "b", "a"])
        #expect(test.labels == [0, 2])
        #expect(throws: DatasetError.unknownClassLabel(path: "t.ts", line: 8, column: 5, label: "b", known: ["c", "a"]))
        {
            try parse(Self.header + "1:2:c\n3:4:b\n", classNames: ["c", "a"])
        }
    }

    @Test("missing values are refused by default, or carried forward")
    func missingValues() throws {
        let text = Self.header + "?,1,?,?,4:5,?:b\n"
        #expect(throws: DatasetError.missingValue(path: "t.ts", line: 7, column: 1)) { try parse(text) }
        let filled = try parse(text, missingValues: .carryForward)
        #expect(filled.values == [1, 5, 1, 5, 1, 5, 1, 5, 4, 5])
        // NaN counts as missing only when filling.
        #expect(try parse(Self.header + "1,NaN:2:a\n", missingValues: .carryForward).values == [1, 2, 1, 2])
        #expect(throws: DatasetError.nonFiniteValue(path: "t.ts", line: 7, column: 3, found: "NaN")) {
            try parse(Self.header + "1,NaN:2:a\n")
        }
        #expect(
            throws: DatasetError.unexpected(
                path: "t.ts", line: 7, column: 3, expected: "a value in dimension 2 to fill its missing values from",
                found: "only missing values")
        ) {
            try parse(Self.header + "1:?,?:a\n", missingValues: .carryForward)
        }
    }

    // MARK: Errors

    @Test("descriptions read path:line:column: expected, found")
    func descriptions() {
        #expect(
            DatasetError.unexpected(path: "GunPoint_TRAIN.ts", line: 12, column: 57, expected: "a number", found: "abc")
                .description == "GunPoint_TRAIN.ts:12:57: expected a number, found 'abc'")
        #expect(
            DatasetError.unknownClassLabel(path: "t.ts", line: 3, column: 9, label: "7", known: ["1", "2"])
                .description == "t.ts:3:9: unknown class label '7', expected one of '1', '2'")
        #expect(
            DatasetError.notUTF8(path: "x.txt", byteOffset: 5).description
                == "x.txt: not UTF-8: invalid byte sequence at byte offset 5")
        #expect(
            DatasetError.io(path: "/no/such.ts", operation: "open", code: ENOENT).description
                == "/no/such.ts: open failed: No such file or directory (errno \(ENOENT))")
        #expect(
            DatasetError.unknownCharacter(source: "c", character: "\u{7}", offset: 2).description
                == "c: character '\\u{07}' at offset 2 is not in the vocabulary")
        let error = DatasetError.dimensionCount(path: "t.ts", line: 4, expected: 1, found: 3)
        #expect(error.description == "t.ts:4: expected 1 dimension, found 3")
    }

    @Test("a value that is not a number is reported at its line and column")
    func notANumber() throws {
        let file =
            String(repeating: "#\n", count: 3) + "@classLabel true 1 2\n@data\n"
            + "0.5,0.25,abc,1:2\n"
        let bytes = Array(file.utf8)
        #expect(
            throws: DatasetError.unexpected(
                path: "GunPoint_TRAIN.ts", line: 6, column: 10, expected: "a number", found: "abc")
        ) {
            try TimeSeriesClassificationSet(bytes: bytes, source: "GunPoint_TRAIN.ts")
        }
        do {
            _ = try TimeSeriesClassificationSet(bytes: bytes, source: "GunPoint_TRAIN.ts")
        } catch {
            #expect(error.description == "GunPoint_TRAIN.ts:6:10: expected a number, found 'abc'")
        }
    }

    @Test(
        "every malformed-file error names what and where",
        arguments: [
            ("", DatasetError.emptyFile(path: "t.ts")),
            ("\u{FEFF} \r\n\n", .emptyFile(path: "t.ts")),
            ("@classLabel true 1\n", .missingHeader(path: "t.ts", header: "@data")),
            ("@problemName X\n@data\n1:1\n", .missingHeader(path: "t.ts", header: "@classLabel")),
            ("@classLabel true 1\n@data\n\n# nothing\n", .noData(path: "t.ts")),
            (
                "@classLabel true 1\n@data\n1,2,3\n",
                .unexpected(
                    path: "t.ts", line: 3, column: 6, expected: "':' and a class label after the values", found: "")
            ),
            (
                "@classLabel true 1\n@data\n1,2,3: \n",
                .unexpected(path: "t.ts", line: 3, column: 7, expected: "a class label after the last ':'", found: "")
            ),
            (
                "@classLabel true 1\n@data\n1,,3:1\n",
                .unexpected(path: "t.ts", line: 3, column: 3, expected: "a number", found: "")
            ),
            (
                "@classLabel true 1\n@data\n1,2,:1\n",
                .unexpected(path: "t.ts", line: 3, column: 5, expected: "a number", found: "")
            ),
            ("@classLabel true 1\n@data\n1,inf:1\n", .nonFiniteValue(path: "t.ts", line: 3, column: 3, found: "inf")),
            ("@classLabel true 1\n@data\n1e39:1\n", .nonFiniteValue(path: "t.ts", line: 3, column: 1, found: "1e39")),
            (
                "@classLabel true 1 2\n@data\n1:3\n",
                .unknownClassLabel(path: "t.ts", line: 3, column: 3, label: "3", known: ["1", "2"])
            ),
            (
                "@dimensions 2\n@classLabel true 1\n@data\n1:2:1\n1:1\n",
                .dimensionCount(path: "t.ts", line: 5, expected: 2, found: 1)
            ),
            (
                "@classLabel true 1\n@data\n1:2:1\n1:2:3:1\n",
                .dimensionCount(path: "t.ts", line: 4, expected: 2, found: 3)
            ),
            (
                "@univariate true\n@classLabel true 1\n@data\n1:2:1\n",
                .dimensionCount(path: "t.ts", line: 4, expected: 1, found: 2)
            ),
            (
                "@equalLength true\n@seriesLength 3\n@classLabel true 1\n@data\n1,2,3:1\n1,2:1\n",
                .seriesLength(path: "t.ts", line: 6, dimension: 1, expected: 3, found: 2)
            ),
            (
                "@equalLength true\n@classLabel true 1\n@data\n1,2:3,4:1\n1,2:3:1\n",
                .seriesLength(path: "t.ts", line: 5, dimension: 2, expected: 2, found: 1)
            ),
            (
                "@timeStamps true\n",
                .unexpected(
                    path: "t.ts", line: 1, column: 13,
                    expected: "false: time-stamped data is not supported", found: "true")
            ),
            (
                "@classLabel false\n",
                .unexpected(
                    path: "t.ts", line: 1, column: 13,
                    expected: "true and the class labels: only classification problems are supported", found: "false")
            ),
            (
                "@classLabel true\n",
                .unexpected(path: "t.ts", line: 1, column: 17, expected: "class labels after 'true'", found: "")
            ),
            (
                "@classLabel true a b a\n",
                .unexpected(path: "t.ts", line: 1, column: 22, expected: "distinct class labels", found: "a")
            ),
            (
                "@targetLabel true\n",
                .unexpected(
                    path: "t.ts", line: 1, column: 1, expected: "@classLabel: regression problems are not supported",
                    found: "@targetLabel")
            ),
            (
                "@seriesLength -3\n",
                .unexpected(path: "t.ts", line: 1, column: 15, expected: "a positive integer", found: "-3")
            ),
            (
                "@seriesLength 99999999999999999999999\n",
                .unexpected(
                    path: "t.ts", line: 1, column: 15, expected: "a positive integer", found: "99999999999999999999999")
            ),
            (
                "@univariate maybe\n",
                .unexpected(path: "t.ts", line: 1, column: 13, expected: "true or false", found: "maybe")
            ),
            (
                "@univariate true false\n",
                .unexpected(
                    path: "t.ts", line: 1, column: 18, expected: "the end of the line after @univariate", found: "false"
                )
            ),
            (
                "@missing false\n@missing false\n",
                .unexpected(
                    path: "t.ts", line: 2, column: 1, expected: "one @missing line only", found: "@missing")
            ),
            (
                "@colour blue\n",
                .unexpected(
                    path: "t.ts", line: 1, column: 1,
                    expected:
                        "@problemName, @timeStamps, @missing, @univariate, @dimensions, @equalLength, @seriesLength, "
                        + "@classLabel or @data", found: "@colour")
            ),
            (
                "1,2:1\n",
                .unexpected(
                    path: "t.ts", line: 1, column: 1,
                    expected: "a header line starting with '@', or '@data'", found: "1,2:1")
            ),
            (
                "@classLabel true 1\n@data\n1:1\n@missing false\n",
                .unexpected(
                    path: "t.ts", line: 4, column: 1, expected: "a case: values, then ':' and the class label",
                    found: "@missing false")
            ),
            (
                "@classLabel true 1\n@data extra\n",
                .unexpected(
                    path: "t.ts", line: 2, column: 7, expected: "the end of the line after @data", found: "extra")
            ),
            (
                "@univariate true\n@dimensions 3\n@classLabel true 1\n@data\n",
                .unexpected(
                    path: "t.ts", line: 4, column: 1, expected: "@dimensions 1 for a problem declared @univariate true",
                    found: "@dimensions 3")
            )
        ] as [(String, DatasetError)])
    func malformed(_ text: String, _ expected: DatasetError) {
        #expect(throws: expected) { try parse(text) }
    }

    @Test("columns count Unicode scalars, not bytes; long tokens are shortened")
    func columnsAndExcerpts() {
        #expect(throws: DatasetError.unknownClassLabel(path: "t.ts", line: 3, column: 5, label: "żółw", known: ["ż"])) {
            try parse("@classLabel true ż\n@data\nééé:żółw\n")
        }
        let long = String(repeating: "x", count: 100)
        #expect(
            throws: DatasetError.unexpected(
                path: "t.ts", line: 3, column: 1, expected: "a number", found: String(repeating: "x", count: 40) + "…")
        ) {
            try parse("@classLabel true 1\n@data\n\(long):1\n")
        }
    }

    @Test("bytes that are not UTF-8 are reported by offset")
    func notUTF8() {
        let bytes = Array("@classLabel true 1\n@data\n1".utf8) + [0xE9] + Array(":1\n".utf8)
        #expect(throws: DatasetError.notUTF8(path: "t.ts", byteOffset: 26)) {
            try TimeSeriesClassificationSet(bytes: bytes, source: "t.ts")
        }
    }

    @Test("a file whose padding would dwarf it is refused before allocating")
    func paddingBound() {
        // One case of 3000 steps and 2000 of one step: 6 million padded values from ~18 KB.
        let long = (0..<3000).map { _ in "1" }.joined(separator: ",") + ":1\n"
        let text = "@classLabel true 1\n@data\n" + long + String(repeating: "1:1\n", count: 2000)
        let limit = 2 * text.utf8.count + 4096
        #expect(
            throws: DatasetError.tooLarge(
                path: "t.ts", what: "values to pad 2001 cases of 1 dimension to 3000 steps", count: 6_003_000,
                limit: limit)
        ) {
            try parse(text)
        }
    }

    @Test("at most maxClasses classes")
    func classLimit() {
        let labels = (0...TimeSeriesClassificationSet.maxClasses).map(String.init).joined(separator: " ")
        #expect(
            throws: DatasetError.tooLarge(
                path: "t.ts", what: "class labels in @classLabel", count: 65537, limit: 65536)
        ) {
            try parse("@classLabel true \(labels)\n@data\n1:0\n")
        }
    }

    @Test("reading a missing file or a directory reports the I/O error")
    func readErrors() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let missing = directory.appendingPathComponent("missing.ts")
        #expect(throws: DatasetError.io(path: missing.path, operation: "open", code: ENOENT)) {
            try TimeSeriesClassificationSet(contentsOf: missing)
        }
        #expect(throws: DatasetError.io(path: directory.path, operation: "read", code: EISDIR)) {
            try TimeSeriesClassificationSet(contentsOf: directory)
        }
        let url = try writeDataFile("ok.ts", Array("@classLabel true 1\n@data\n1,2:1\n".utf8), in: directory)
        #expect(try TimeSeriesClassificationSet(contentsOf: url).source == url.path)
    }

    // MARK: Scaling

    @Test("scaling is fitted on valid steps only and leaves padding at zero")
    func scaling() throws {
        let set = try parse(Self.header + "1,3:10,30:a\n5:50:b\n")
        let scaling = set.fitScaling()
        #expect(scaling.mean == [3, 30])
        let deviation = Float((8.0 / 3.0).squareRoot())
        #expect(abs(scaling.deviation[0] - deviation) < 1e-6)
        #expect(abs(scaling.deviation[1] - 10 * deviation) < 1e-5)
        let scaled = try set.normalized(using: scaling)
        #expect(scaled.values[6...7] == [0, 0])  // case 2, step 2: padding
        #expect(abs(scaled.values[0] + 2 / deviation) < 1e-6)
        #expect(scaled.lengths == set.lengths && scaled.labels == set.labels)

        // A constant dimension gets deviation 1.
        #expect(try parse(Self.header + "2,2:1,3:a\n").fitScaling().deviation == [1, 1])
        #expect(throws: DatasetError.featureCountMismatch(source: "t.ts", features: 2, scalingFeatures: 1)) {
            try set.normalized(using: FeatureScaling(mean: [0], deviation: [1]))
        }
    }

    @Test("a scaling round-trips through JSON and is validated when decoded")
    func scalingCoding() throws {
        let scaling = try FeatureScaling(mean: [1.5, -2], deviation: [0.25, 3])
        let data = try JSONEncoder().encode(scaling)
        #expect(try JSONDecoder().decode(FeatureScaling.self, from: data) == scaling)
        let bad = Data(#"{"mean":[1,2],"deviation":[1,0]}"#.utf8)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(FeatureScaling.self, from: bad) }
        #expect(throws: DatasetError.self) { try FeatureScaling(mean: [1], deviation: [1, 2]) }
        #expect(try scaling.unscale(scaling.scale([1, 2, 3, 4])) == [1, 2, 3, 4])
        #expect(
            throws: DatasetError.invalidArgument(
                name: "value count", value: "3",
                expected: "a multiple of 2, the number of features the scaling was fitted on")
        ) {
            try scaling.scale([1, 2, 3])
        }
    }

    // MARK: Robustness

    @Test("random mutations of a valid file parse or throw, never trap")
    func fuzz() {
        let cases = "1,2.5,-3e-2:4,5:a\n6,7:7:c\n# c\n0x1p3,1:2,3,4:b\n 8, 9 ,10:11,12,13:a\r\n14:15:b\n"
        let original = Array(("@classLabel true a b c\n@data\n" + cases + cases).utf8)
        expectParsesOrRefuses(original, seed: 0x75) { iteration, bytes in
            let set = try TimeSeriesClassificationSet(
                bytes: bytes, source: "fuzz.ts", missingValues: iteration % 2 == 0 ? .reject : .carryForward)
            #expect(set.values.count == set.count * set.maxLength * set.dimensions)
            #expect(set.lengths.count == set.count && set.labels.count == set.count)
            #expect(set.lengths.allSatisfy { $0 >= 1 && Int($0) <= set.maxLength })
            #expect(set.labels.allSatisfy { $0 >= 0 && Int($0) < set.classNames.count })
            #expect(set.values.allSatisfy { $0.isFinite })
        }
    }

    /// Each file under Tests/Fixtures/malformed/ts, and the error it must give.
    @Test("malformed fixture files are refused with their specific errors")
    func malformedFixtures() throws {
        let folder = SampleData.malformed.appendingPathComponent("ts")
        let expected: [String: (String) -> DatasetError] = [
            "not-a-number": { .unexpected(path: $0, line: 10, column: 15, expected: "a number", found: "1.2.3") },
            "missing-value": { .missingValue(path: $0, line: 10, column: 7) },
            "nan-value": { .nonFiniteValue(path: $0, line: 11, column: 5, found: "NaN") },
            "unknown-label": { .unknownClassLabel(path: $0, line: 11, column: 11, label: "3", known: ["1", "2"]) },
            "no-data-line": { .missingHeader(path: $0, header: "@data") },
            "dimension-count": { .dimensionCount(path: $0, line: 11, expected: 2, found: 1) },
            "series-length": { .seriesLength(path: $0, line: 10, dimension: 1, expected: 4, found: 3) },
            "timestamps": {
                .unexpected(
                    path: $0, line: 2, column: 13, expected: "false: time-stamped data is not supported",
                    found: "true")
            },
            "latin1": { .notUTF8(path: $0, byteOffset: 16) }
        ]
        try replayMalformedFixtures(in: folder, extension: ".ts", expected: expected) { url in
            _ = try TimeSeriesClassificationSet(contentsOf: url)
        }
    }
}
