import Foundation

/// A UCR/UEA `.ts` classification file, parsed and padded: `values` is
/// `[count, maxLength, dimensions]`, each case's shorter dimensions holding
/// their last value up to the case's length, and `labels` index
/// `classNames`. See ``TimeSeriesClassificationSet`` for the format's rules.
package struct TimeSeriesFile {
    /// `@problemName`, if the file has one.
    package let problemName: String?
    package let classNames: [String]
    package let dimensions: Int
    package let count: Int
    package let maxLength: Int
    package let values: [Float]
    package let lengths: [Int32]
    package let labels: [Int32]

    /// Parses the bytes of a `.ts` file; `path` names it in errors.
    /// - Parameters:
    ///   - classNames: the classes to number labels by (a training set's),
    ///     or nil for the file's `@classLabel` order.
    ///   - carriesMissingValuesForward: fill `?` with the value before it
    ///     instead of refusing it.
    ///   - maxClasses: the most classes a file may declare.
    package init(
        bytes: [UInt8], path: String, classNames: [String]?, carriesMissingValuesForward: Bool,
        maxClasses: Int
    ) throws(DatasetError) {
        var parser = try _TSParser(
            text: _TextBytes(bytes, path: path),
            carriesMissingValuesForward: carriesMissingValuesForward, maxClasses: maxClasses)
        try parser.parse(classNames: classNames)
        self = try parser.padded()
    }

    fileprivate init(
        problemName: String?, classNames: [String], dimensions: Int, count: Int, maxLength: Int,
        values: [Float], lengths: [Int32], labels: [Int32]
    ) {
        (self.problemName, self.classNames, self.dimensions, self.count) = (problemName, classNames, dimensions, count)
        (self.maxLength, self.values, self.lengths, self.labels) = (maxLength, values, lengths, labels)
    }
}

/// Reads a `.ts` file line by line into flat per-case storage, then pads.
private struct _TSParser {
    let text: _TextBytes
    /// Whether `?` (and `NaN`) take the value before them instead of being refused.
    let carriesMissingValuesForward: Bool
    let maxClasses: Int

    // Header.
    var problemName: String?
    var univariate: Bool?
    var declaredDimensions: Int?
    var equalLength: Bool?
    var seriesLength: Int?
    var declaredLabels: [String]?
    var seenHeaders: Set<String> = []

    // Data: every dimension's values, case after case, dimension after dimension.
    var flatValues: [Float] = []
    var dimensionLengths: [Int] = []
    var labels: [Int32] = []
    var classNames: [String] = []
    var dimensions = 0

    init(text: _TextBytes, carriesMissingValuesForward: Bool, maxClasses: Int) {
        self.text = text
        self.carriesMissingValuesForward = carriesMissingValuesForward
        self.maxClasses = maxClasses
    }

    private var bytes: [UInt8] { text.bytes }
    private var path: String { text.path }

    mutating func parse(classNames requested: [String]?) throws(DatasetError) {
        var offset = text.start
        var lineNumber = 0
        var inData = false
        var declaredIndex: [String: Int] = [:]
        var classIndex: [String: Int] = [:]
        while offset < bytes.count {
            lineNumber += 1
            let lineStart = offset
            let lineEnd = bytes[offset...].firstIndex(of: 0x0A) ?? bytes.count
            offset = min(lineEnd + 1, bytes.count)
            var content = text.trimmed(lineStart..<lineEnd)
            while let last = content.last, bytes[last] == 0x0D || _isWhitespace(bytes[last]) {
                content = content.lowerBound..<last
            }
            guard let first = content.first else { continue }
            let line = _Line(number: lineNumber, start: lineStart, content: content)
            if bytes[first] == UInt8(ascii: "#") { continue }
            if !inData {
                guard bytes[first] == UInt8(ascii: "@") else {
                    throw unexpected(
                        line, at: first, expected: "a header line starting with '@', or '@data'",
                        found: text.excerpt(content))
                }
                inData = try parseHeader(line)
                if inData {
                    let labels = declaredLabels ?? []
                    for (index, label) in labels.enumerated() { declaredIndex[label] = index }
                    classNames = requested ?? labels
                    for (index, name) in classNames.enumerated() where classIndex[name] == nil {
                        classIndex[name] = index
                    }
                }
            } else {
                guard bytes[first] != UInt8(ascii: "@") else {
                    throw unexpected(
                        line, at: first, expected: "a case: values, then ':' and the class label",
                        found: text.excerpt(content))
                }
                try parseCase(line, declaredIndex: declaredIndex, classIndex: classIndex)
            }
        }
        guard inData else { throw .missingHeader(path: path, header: "@data") }
        guard !labels.isEmpty else { throw .noData(path: path) }
    }

    /// One non-blank line, `content` trimmed.
    struct _Line {
        let number: Int
        let start: Int
        let content: Range<Int>
    }

    private func unexpected(_ line: _Line, at offset: Int, expected: String, found: String) -> DatasetError {
        .unexpected(
            path: path, line: line.number, column: text.column(of: offset, lineStart: line.start),
            expected: expected, found: found)
    }

    // MARK: Header

    /// Parses one header line; returns whether it was `@data`.
    private mutating func parseHeader(_ line: _Line) throws(DatasetError) -> Bool {
        var words: [Range<Int>] = []
        var index = line.content.lowerBound
        while index < line.content.upperBound {
            while index < line.content.upperBound, _isWhitespace(bytes[index]) { index += 1 }
            let wordStart = index
            while index < line.content.upperBound, !_isWhitespace(bytes[index]) { index += 1 }
            if index > wordStart { words.append(wordStart..<index) }
        }
        let tagRange = words[0]
        let spelledTag = String(decoding: bytes[tagRange], as: UTF8.self)
        let tag = spelledTag.lowercased()
        let arguments = words.dropFirst()
        let known =
            "@problemName, @timeStamps, @missing, @univariate, @dimensions, @equalLength, "
            + "@seriesLength, @classLabel or @data"

        let canonical = tag == "@dimension" ? "@dimensions" : tag
        guard !seenHeaders.contains(canonical) else {
            throw unexpected(
                line, at: tagRange.lowerBound, expected: "one \(spelledTag) line only",
                found: text.excerpt(tagRange))
        }
        seenHeaders.insert(canonical)

        func word(_ range: Range<Int>) -> String { String(decoding: bytes[range], as: UTF8.self) }
        func single(_ what: String) throws(DatasetError) -> Range<Int> {
            guard let value = arguments.first else {
                throw unexpected(line, at: line.content.upperBound, expected: what, found: "")
            }
            if arguments.count > 1 {
                let rest = arguments[arguments.startIndex + 1].lowerBound..<line.content.upperBound
                throw unexpected(
                    line, at: rest.lowerBound, expected: "the end of the line after \(spelledTag)",
                    found: text.excerpt(rest))
            }
            return value
        }
        func boolean() throws(DatasetError) -> Bool {
            let range = try single("true or false")
            switch word(range).lowercased() {
            case "true": return true
            case "false": return false
            default: throw unexpected(line, at: range.lowerBound, expected: "true or false", found: text.excerpt(range))
            }
        }
        func positiveInteger() throws(DatasetError) -> Int {
            let range = try single("a positive integer")
            guard range.count <= 18, let value = Int(word(range)), value > 0 else {
                throw unexpected(line, at: range.lowerBound, expected: "a positive integer", found: text.excerpt(range))
            }
            return value
        }

        switch canonical {
        case "@problemname":
            guard let first = arguments.first, let last = arguments.last else {
                throw unexpected(line, at: line.content.upperBound, expected: "a problem name", found: "")
            }
            problemName = word(first.lowerBound..<last.upperBound)
        case "@timestamps":
            if try boolean() {
                throw unexpected(
                    line, at: arguments[arguments.startIndex].lowerBound,
                    expected: "false: time-stamped data is not supported", found: "true")
            }
        case "@missing":
            _ = try boolean()  // Advisory: '?' is handled as `missingValues` says either way.
        case "@univariate":
            univariate = try boolean()
        case "@dimensions":
            declaredDimensions = try positiveInteger()
        case "@equallength":
            equalLength = try boolean()
        case "@serieslength":
            seriesLength = try positiveInteger()
        case "@classlabel":
            guard let flag = arguments.first else {
                throw unexpected(line, at: line.content.upperBound, expected: "true and the class labels", found: "")
            }
            guard word(flag).lowercased() == "true" else {
                throw unexpected(
                    line, at: flag.lowerBound,
                    expected: "true and the class labels: only classification problems are supported",
                    found: text.excerpt(flag))
            }
            var labels: [String] = []
            var seen: Set<String> = []
            for range in arguments.dropFirst() {
                let label = word(range)
                guard seen.insert(label).inserted else {
                    throw unexpected(
                        line, at: range.lowerBound, expected: "distinct class labels",
                        found: text.excerpt(range))
                }
                labels.append(label)
            }
            guard !labels.isEmpty else {
                throw unexpected(line, at: line.content.upperBound, expected: "class labels after 'true'", found: "")
            }
            guard labels.count <= maxClasses else {
                throw .tooLarge(
                    path: path, what: "class labels in @classLabel", count: labels.count,
                    limit: maxClasses)
            }
            declaredLabels = labels
        case "@targetlabel":
            throw unexpected(
                line, at: tagRange.lowerBound,
                expected: "@classLabel: regression problems are not supported", found: text.excerpt(tagRange))
        case "@data":
            if let extra = arguments.first {
                throw unexpected(
                    line, at: extra.lowerBound, expected: "the end of the line after @data",
                    found: text.excerpt(extra.lowerBound..<line.content.upperBound))
            }
            guard declaredLabels != nil else { throw .missingHeader(path: path, header: "@classLabel") }
            if univariate == true, let declared = declaredDimensions, declared != 1 {
                throw unexpected(
                    line, at: tagRange.lowerBound,
                    expected: "@dimensions 1 for a problem declared @univariate true",
                    found: "@dimensions \(declared)")
            }
            return true
        default:
            throw unexpected(line, at: tagRange.lowerBound, expected: known, found: text.excerpt(tagRange))
        }
        return false
    }

    // MARK: Cases

    private mutating func parseCase(
        _ line: _Line, declaredIndex: [String: Int], classIndex: [String: Int]
    ) throws(DatasetError) {
        let content = line.content
        guard let lastColon = bytes[content].lastIndex(of: UInt8(ascii: ":")) else {
            throw unexpected(
                line, at: content.upperBound, expected: "':' and a class label after the values", found: "")
        }
        // The label first: a wrong label is the likelier mistake in a test file.
        let labelRange = text.trimmed((lastColon + 1)..<content.upperBound)
        guard !labelRange.isEmpty else {
            throw unexpected(line, at: labelRange.lowerBound, expected: "a class label after the last ':'", found: "")
        }
        let label = String(decoding: bytes[labelRange], as: UTF8.self)
        let column = text.column(of: labelRange.lowerBound, lineStart: line.start)
        guard declaredIndex[label] != nil else {
            throw .unknownClassLabel(
                path: path, line: line.number, column: column, label: text.excerpt(labelRange),
                known: declaredLabelsOrEmpty)
        }
        guard let index = classIndex[label], let labelIndex = Int32(exactly: index) else {
            throw .unknownClassLabel(
                path: path, line: line.number, column: column, label: text.excerpt(labelRange),
                known: classNames)
        }

        var found = 1
        for byte in bytes[content.lowerBound..<lastColon] where byte == UInt8(ascii: ":") { found += 1 }
        if labels.isEmpty {
            dimensions = declaredDimensions ?? (univariate == true ? 1 : found)
        }
        guard found == dimensions else {
            throw .dimensionCount(path: path, line: line.number, expected: dimensions, found: found)
        }

        var dimensionStart = content.lowerBound
        for dimension in 0..<dimensions {
            let dimensionEnd =
                dimension == dimensions - 1
                ? lastColon : (bytes[dimensionStart..<lastColon].firstIndex(of: UInt8(ascii: ":")) ?? lastColon)
            let length = try parseValues(line, dimensionStart..<dimensionEnd, dimension: dimension)
            if equalLength == true {
                let expected = seriesLength ?? dimensionLengths.first ?? length
                guard length == expected else {
                    throw .seriesLength(
                        path: path, line: line.number, dimension: dimension + 1,
                        expected: expected, found: length)
                }
            }
            dimensionLengths.append(length)
            dimensionStart = dimensionEnd + 1
        }
        labels.append(labelIndex)
    }

    private var declaredLabelsOrEmpty: [String] { declaredLabels ?? [] }

    /// Appends one dimension's comma-separated values to `flatValues`; returns their count.
    private mutating func parseValues(_ line: _Line, _ range: Range<Int>, dimension: Int) throws(DatasetError) -> Int {
        let before = flatValues.count
        var valueStart = range.lowerBound
        var sawMissing = false
        while true {
            let valueEnd = bytes[valueStart..<range.upperBound].firstIndex(of: UInt8(ascii: ",")) ?? range.upperBound
            let token = text.trimmed(valueStart..<valueEnd)
            switch text.number(token) {
            case .value(let value):
                flatValues.append(value)
            case .missing where token.isEmpty:
                throw unexpected(line, at: token.lowerBound, expected: "a number", found: "")
            case .missing:
                guard carriesMissingValuesForward else {
                    throw .missingValue(
                        path: path, line: line.number,
                        column: text.column(of: token.lowerBound, lineStart: line.start))
                }
                flatValues.append(.nan)
                sawMissing = true
            case .nonFinite:
                let word = String(decoding: bytes[token], as: UTF8.self).lowercased()
                guard carriesMissingValuesForward, word == "nan" else {
                    throw .nonFiniteValue(
                        path: path, line: line.number,
                        column: text.column(of: token.lowerBound, lineStart: line.start),
                        found: text.excerpt(token))
                }
                flatValues.append(.nan)
                sawMissing = true
            case .notANumber:
                throw unexpected(line, at: token.lowerBound, expected: "a number", found: text.excerpt(token))
            }
            if valueEnd == range.upperBound { break }
            valueStart = valueEnd + 1
        }
        if sawMissing {
            // Carry forward; the leading gap takes the first present value.
            guard let firstPresent = flatValues[before...].first(where: { !$0.isNaN }) else {
                throw unexpected(
                    line, at: range.lowerBound,
                    expected: "a value in dimension \(dimension + 1) to fill its missing values from",
                    found: "only missing values")
            }
            var previous = firstPresent
            for index in before..<flatValues.count {
                if flatValues[index].isNaN { flatValues[index] = previous } else { previous = flatValues[index] }
            }
        }
        return flatValues.count - before
    }

    // MARK: Padding

    /// Pads the cases into `[N, T, D]`, checking the size against the file's.
    func padded() throws(DatasetError) -> TimeSeriesFile {
        let count = labels.count
        var caseLengths: [Int] = []
        caseLengths.reserveCapacity(count)
        for index in 0..<count {
            caseLengths.append(dimensionLengths[(index * dimensions)..<((index + 1) * dimensions)].max() ?? 0)
        }
        let maxLength = caseLengths.max() ?? 0

        let limit = 2 * bytes.count + 4096
        let (perCase, overflow1) = maxLength.multipliedReportingOverflow(by: dimensions)
        let (total, overflow2) = perCase.multipliedReportingOverflow(by: count)
        guard !overflow1, !overflow2, total <= limit else {
            let shape = "\(count) cases of \(dimensions) dimension\(dimensions == 1 ? "" : "s")"
            throw .tooLarge(
                path: path, what: "values to pad \(shape) to \(maxLength) steps",
                count: overflow1 || overflow2 ? .max : total, limit: limit)
        }
        guard Int32(exactly: maxLength) != nil else {
            throw .tooLarge(path: path, what: "steps in the longest case", count: maxLength, limit: Int(Int32.max))
        }

        var values = [Float](repeating: 0, count: total)
        var next = 0  // the first value of the current dimension in `flatValues`
        for index in 0..<count {
            let base = index * maxLength * dimensions
            for dimension in 0..<dimensions {
                let length = dimensionLengths[index * dimensions + dimension]
                for step in 0..<caseLengths[index] {
                    // A shorter dimension holds its last value up to the case's length.
                    values[base + step * dimensions + dimension] = flatValues[next + min(step, length - 1)]
                }
                next += length
            }
        }
        return TimeSeriesFile(
            problemName: problemName, classNames: classNames, dimensions: dimensions, count: count,
            maxLength: maxLength, values: values, lengths: caseLengths.map { Int32($0) }, labels: labels)
    }
}
