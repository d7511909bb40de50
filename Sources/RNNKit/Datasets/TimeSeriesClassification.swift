import Foundation

/// A time-series classification problem read from a UCR/UEA `.ts` file
/// (the sktime format), padded into one `[count, maxLength, dimensions]` array.
///
/// The file is a header, then one case per line:
///
/// ```
/// # comments start with '#'
/// @problemName JapaneseVowels
/// @timeStamps false
/// @missing false
/// @univariate false
/// @dimensions 12
/// @equalLength false
/// @classLabel true 1 2 3 4 5 6 7 8 9
/// @data
/// 1.86,1.89,1.94:-0.21,-0.19,-0.24: ... :1
/// ```
///
/// Dimensions are separated by `:`, values by `,`, and the class label comes
/// last, after the final `:`. Header names are case-insensitive; `@data` and
/// `@classLabel true …` are required. Blank lines, comment lines, spaces
/// around values, CR LF line endings and a leading byte-order mark are
/// accepted. Time-stamped data (`@timeStamps true`) and regression problems
/// (`@targetLabel`) are refused with an error that says so.
///
/// Lengths:
/// - A case's length is the longest of its dimensions. A shorter dimension is
///   extended to it by repeating its last value: those steps are inside the
///   valid length, so the model reads them, and holding the last observation
///   does not inject a value (like 0) from outside the data's range.
/// - Past its length, a case is padded with zeros, which the engine never
///   reads (``lengths`` marks where each case ends).
/// - `@equalLength true` is enforced: every dimension of every case must have
///   `@seriesLength` values (or, without it, as many as the first case).
///
/// Missing values (`?`) are refused by default, with their line and column:
/// a recurrent network has no notion of a missing input, and any fill is a
/// modelling decision that should be made knowingly, not by a file reader.
/// ``MissingValues/carryForward`` fills them instead. `NaN` and infinities
/// are never accepted as values.
///
/// Memory is bounded by the file: the padded array may hold at most two
/// values per byte of the file (plus 4096), so a file whose cases vary wildly
/// in length cannot make the reader allocate gigabytes; such a file fails
/// with ``DatasetError/tooLarge(path:what:count:limit:)``, as does one that
/// declares more than ``maxClasses`` classes.
///
/// ```swift
/// let train = try TimeSeriesClassificationSet(contentsOf: trainURL)
/// let test = try TimeSeriesClassificationSet(contentsOf: testURL, classNames: train.classNames)
/// let scaling = train.fitScaling()
/// let batch = try train.normalized(using: scaling).batch()
/// ```
public struct TimeSeriesClassificationSet: Sendable, Equatable {
    /// What to do with a missing value (`?`).
    public enum MissingValues: Sendable, Equatable {
        /// Throw ``DatasetError/missingValue(path:line:column:)`` naming its position.
        case reject
        /// Repeat the previous value of the same dimension; missing values at
        /// the start take the first present one. `?` and `NaN` both count as
        /// missing. A dimension with no value at all is still an error.
        case carryForward
    }

    /// The most classes a file may declare.
    public static let maxClasses = 1 << 16

    /// The file's path, or the name given for bytes in memory.
    public let source: String
    /// `@problemName`, or the file name without its extension if absent.
    public let name: String
    /// Class names; `labels` index into them.
    public let classNames: [String]
    /// The number of values per step, D.
    public let dimensions: Int
    /// The number of cases, N.
    public let count: Int
    /// The longest case, T.
    public let maxLength: Int
    /// All cases, `[N, T, D]` row-major; steps past a case's length are zero.
    public let values: [Float]
    /// Each case's length, in `1...maxLength`.
    public let lengths: [Int32]
    /// Each case's class, an index into `classNames`.
    public let labels: [Int32]

    /// Reads a `.ts` file.
    ///
    /// - Parameters:
    ///   - url: The file.
    ///   - classNames: The classes, in the order that fixes their indices. Pass
    ///     the training set's `classNames` when reading its test set, so that
    ///     both number the classes alike. If `nil`, the `@classLabel` order.
    ///   - missingValues: What to do with `?` values; refused by default.
    /// - Throws: ``DatasetError`` naming the first problem and its position.
    public init(contentsOf url: URL, classNames: [String]? = nil, missingValues: MissingValues = .reject)
        throws(DatasetError)
    {
        try self.init(bytes: _readDataFile(url), source: url.path, classNames: classNames, missingValues: missingValues)
    }

    /// Parses the bytes of a `.ts` file; `source` names it in errors.
    public init(bytes: [UInt8], source: String, classNames: [String]? = nil, missingValues: MissingValues = .reject)
        throws(DatasetError)
    {
        var seen: Set<String> = []
        if let repeated = classNames?.first(where: { !seen.insert($0).inserted }) {
            throw .invalidArgument(name: "classNames", value: "naming '\(repeated)' twice", expected: "distinct class names")
        }
        var parser = try _TSParser(text: _TextBytes(bytes, path: source), missingValues: missingValues)
        try parser.parse(classNames: classNames)
        let fallbackName = URL(fileURLWithPath: source).deletingPathExtension().lastPathComponent
        self = try parser.makeSet(name: parser.problemName ?? fallbackName, source: source)
    }

    /// The memberwise initializer, for the parser and for scaled copies.
    fileprivate init(source: String, name: String, classNames: [String], dimensions: Int, count: Int,
                     maxLength: Int, values: [Float], lengths: [Int32], labels: [Int32]) {
        self.source = source
        self.name = name
        self.classNames = classNames
        self.dimensions = dimensions
        self.count = count
        self.maxLength = maxLength
        self.values = values
        self.lengths = lengths
        self.labels = labels
    }

    /// All cases as one batch for a many-to-one classifier: features
    /// `[N, T, D]`, lengths (`nil` if every case is `maxLength` long) and
    /// class targets `[N]`. Train on subsets with the trainer's `rows:`.
    public func batch() -> SequenceBatch {
        let equalLengths = lengths.allSatisfy { Int($0) == maxLength }
        return SequenceBatch(
            count: count, timeSteps: maxLength, inputs: .features(values),
            lengths: equalLengths ? nil : lengths, targets: .classes(labels))
    }

    /// Each dimension's mean and standard deviation over the valid steps of
    /// every case (padding excluded). Fit it on the training set only, and
    /// apply it to both training and test sets.
    public func fitScaling() -> FeatureScaling {
        FeatureScaling._fit(features: dimensions) { visit in
            for index in 0..<count {
                let base = index * maxLength * dimensions
                for position in base..<(base + Int(lengths[index]) * dimensions) {
                    visit(position % dimensions, values[position])
                }
            }
        }
    }

    /// The set with every valid step scaled to `(value - mean) / deviation`;
    /// padding stays zero.
    ///
    /// - Throws: ``DatasetError/featureCountMismatch(source:features:scalingFeatures:)``
    ///   if `scaling` was fitted on another number of dimensions.
    public func normalized(using scaling: FeatureScaling) throws(DatasetError) -> TimeSeriesClassificationSet {
        guard scaling.features == dimensions else {
            throw .featureCountMismatch(source: source, features: dimensions, scalingFeatures: scaling.features)
        }
        var scaled = values
        for index in 0..<count {
            let base = index * maxLength * dimensions
            for position in base..<(base + Int(lengths[index]) * dimensions) {
                let feature = position % dimensions
                scaled[position] = (scaled[position] - scaling.mean[feature]) / scaling.deviation[feature]
            }
        }
        return TimeSeriesClassificationSet(
            source: source, name: name, classNames: classNames, dimensions: dimensions, count: count,
            maxLength: maxLength, values: scaled, lengths: lengths, labels: labels)
    }
}

/// A per-feature affine scaling, `(value - mean) / deviation`, fitted on
/// training data and applied unchanged to validation and test data.
///
/// Every `deviation` is positive and finite; a feature that is constant in
/// the data it was fitted on gets deviation 1, so that it scales to zero
/// instead of dividing by zero. It encodes as `{"mean": [...], "deviation": [...]}`
/// and is validated when decoded.
public struct FeatureScaling: Sendable, Equatable, Codable {
    /// Each feature's mean.
    public let mean: [Float]
    /// Each feature's standard deviation (population), all positive.
    public let deviation: [Float]

    /// The number of features.
    public var features: Int { mean.count }

    /// A scaling from its parameters.
    ///
    /// - Throws: ``DatasetError/invalidArgument(name:value:expected:)`` unless
    ///   both arrays have the same, non-zero count, every value is finite and
    ///   every deviation positive.
    public init(mean: [Float], deviation: [Float]) throws(DatasetError) {
        guard !mean.isEmpty, mean.count == deviation.count else {
            throw .invalidArgument(
                name: "scaling", value: "with \(mean.count) means and \(deviation.count) deviations",
                expected: "as many of each, at least one")
        }
        if let bad = mean.firstIndex(where: { !$0.isFinite }) {
            throw .invalidArgument(name: "scaling mean[\(bad)]", value: "\(mean[bad])", expected: "a finite number")
        }
        if let bad = deviation.firstIndex(where: { !($0 > 0 && $0.isFinite) }) {
            throw .invalidArgument(
                name: "scaling deviation[\(bad)]", value: "\(deviation[bad])", expected: "a positive finite number")
        }
        self.mean = mean
        self.deviation = deviation
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let mean = try container.decode([Float].self, forKey: .mean)
        let deviation = try container.decode([Float].self, forKey: .deviation)
        do {
            try self.init(mean: mean, deviation: deviation)
        } catch {
            throw DecodingError.dataCorrupted(
                DecodingError.Context(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    /// `values` with its innermost dimension of `features` scaled: `(x - mean) / deviation`.
    ///
    /// - Throws: ``DatasetError/invalidArgument(name:value:expected:)`` if
    ///   `values.count` is not a multiple of `features`.
    public func scale(_ values: [Float]) throws(DatasetError) -> [Float] {
        try check(values)
        return try finite(values.indices.map { (values[$0] - mean[$0 % features]) / deviation[$0 % features] }, scaling: "scaled")
    }

    /// The inverse of ``scale(_:)``, `x * deviation + mean`: turns a model's
    /// scaled predictions (innermost dimension `features`) back into data units.
    public func unscale(_ values: [Float]) throws(DatasetError) -> [Float] {
        try check(values)
        return try finite(values.indices.map { values[$0] * deviation[$0 % features] + mean[$0 % features] }, scaling: "unscaled")
    }

    /// `values` if all are finite: a deviation tiny (or huge) for the data
    /// can take a finite value past `Float`'s range.
    private func finite(_ values: [Float], scaling: String) throws(DatasetError) -> [Float] {
        guard let bad = values.firstIndex(where: { !$0.isFinite }) else { return values }
        throw .invalidArgument(name: "\(scaling) value[\(bad)]", value: "\(values[bad])",
                               expected: "a finite number; deviation[\(bad % features)] \(deviation[bad % features]) is out of scale with the data")
    }

    private func check(_ values: [Float]) throws(DatasetError) {
        guard values.count % features == 0 else {
            throw .invalidArgument(
                name: "value count", value: "\(values.count)",
                expected: "a multiple of \(features), the number of features the scaling was fitted on")
        }
    }

    /// Fits a scaling with two passes over the values `visitAll` reports, as
    /// (feature, value) pairs; sums are in `Double`. A feature with no values
    /// gets mean 0 and deviation 1.
    static func _fit(features: Int, _ visitAll: (_ visit: (Int, Float) -> Void) -> Void) -> FeatureScaling {
        var sums = [Double](repeating: 0, count: features)
        var counts = [Int](repeating: 0, count: features)
        visitAll { feature, value in
            sums[feature] += Double(value)
            counts[feature] += 1
        }
        let means = features == 0 ? [] : (0..<features).map { counts[$0] == 0 ? 0 : sums[$0] / Double(counts[$0]) }
        var squares = [Double](repeating: 0, count: features)
        visitAll { feature, value in
            let difference = Double(value) - means[feature]
            squares[feature] += difference * difference
        }
        let deviations = (0..<features).map { feature -> Float in
            guard counts[feature] > 0 else { return 1 }
            let deviation = Float((squares[feature] / Double(counts[feature])).squareRoot())
            // Constant (or nearly so) features would blow up; leave them unscaled.
            guard deviation > 1e-12 else { return 1 }
            return deviation.isFinite ? deviation : .greatestFiniteMagnitude
        }
        return FeatureScaling(_unchecked: means.map { Float($0) }, deviation: deviations)
    }

    private init(_unchecked mean: [Float], deviation: [Float]) {
        self.mean = mean
        self.deviation = deviation
    }
}

// MARK: - Parser

/// Reads a `.ts` file line by line into flat per-case storage, then pads.
private struct _TSParser {
    let text: _TextBytes
    let missingValues: TimeSeriesClassificationSet.MissingValues

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

    init(text: _TextBytes, missingValues: TimeSeriesClassificationSet.MissingValues) {
        self.text = text
        self.missingValues = missingValues
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
                    throw unexpected(line, at: first, expected: "a header line starting with '@', or '@data'",
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
                    throw unexpected(line, at: first, expected: "a case: values, then ':' and the class label",
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
        .unexpected(path: path, line: line.number, column: text.column(of: offset, lineStart: line.start),
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
        let known = "@problemName, @timeStamps, @missing, @univariate, @dimensions, @equalLength, "
            + "@seriesLength, @classLabel or @data"

        let canonical = tag == "@dimension" ? "@dimensions" : tag
        guard !seenHeaders.contains(canonical) else {
            throw unexpected(line, at: tagRange.lowerBound, expected: "one \(spelledTag) line only",
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
                throw unexpected(line, at: rest.lowerBound, expected: "the end of the line after \(spelledTag)",
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
                throw unexpected(line, at: arguments[arguments.startIndex].lowerBound,
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
                throw unexpected(line, at: flag.lowerBound,
                                 expected: "true and the class labels: only classification problems are supported",
                                 found: text.excerpt(flag))
            }
            var labels: [String] = []
            var seen: Set<String> = []
            for range in arguments.dropFirst() {
                let label = word(range)
                guard seen.insert(label).inserted else {
                    throw unexpected(line, at: range.lowerBound, expected: "distinct class labels",
                                     found: text.excerpt(range))
                }
                labels.append(label)
            }
            guard !labels.isEmpty else {
                throw unexpected(line, at: line.content.upperBound, expected: "class labels after 'true'", found: "")
            }
            guard labels.count <= TimeSeriesClassificationSet.maxClasses else {
                throw .tooLarge(path: path, what: "class labels in @classLabel", count: labels.count,
                                limit: TimeSeriesClassificationSet.maxClasses)
            }
            declaredLabels = labels
        case "@targetlabel":
            throw unexpected(line, at: tagRange.lowerBound,
                             expected: "@classLabel: regression problems are not supported", found: text.excerpt(tagRange))
        case "@data":
            if let extra = arguments.first {
                throw unexpected(line, at: extra.lowerBound, expected: "the end of the line after @data",
                                 found: text.excerpt(extra.lowerBound..<line.content.upperBound))
            }
            guard declaredLabels != nil else { throw .missingHeader(path: path, header: "@classLabel") }
            if univariate == true, let declared = declaredDimensions, declared != 1 {
                throw unexpected(line, at: tagRange.lowerBound,
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
            throw unexpected(line, at: content.upperBound, expected: "':' and a class label after the values", found: "")
        }
        // The label first: a wrong label is the likelier mistake in a test file.
        let labelRange = text.trimmed((lastColon + 1)..<content.upperBound)
        guard !labelRange.isEmpty else {
            throw unexpected(line, at: labelRange.lowerBound, expected: "a class label after the last ':'", found: "")
        }
        let label = String(decoding: bytes[labelRange], as: UTF8.self)
        let column = text.column(of: labelRange.lowerBound, lineStart: line.start)
        guard declaredIndex[label] != nil else {
            throw .unknownClassLabel(path: path, line: line.number, column: column, label: text.excerpt(labelRange),
                                     known: declaredLabelsOrEmpty)
        }
        guard let index = classIndex[label], let labelIndex = Int32(exactly: index) else {
            throw .unknownClassLabel(path: path, line: line.number, column: column, label: text.excerpt(labelRange),
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
            let dimensionEnd = dimension == dimensions - 1
                ? lastColon : (bytes[dimensionStart..<lastColon].firstIndex(of: UInt8(ascii: ":")) ?? lastColon)
            let length = try parseValues(line, dimensionStart..<dimensionEnd, dimension: dimension)
            if equalLength == true {
                let expected = seriesLength ?? dimensionLengths.first ?? length
                guard length == expected else {
                    throw .seriesLength(path: path, line: line.number, dimension: dimension + 1,
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
                guard missingValues == .carryForward else {
                    throw .missingValue(path: path, line: line.number,
                                        column: text.column(of: token.lowerBound, lineStart: line.start))
                }
                flatValues.append(.nan)
                sawMissing = true
            case .nonFinite:
                let word = String(decoding: bytes[token], as: UTF8.self).lowercased()
                guard missingValues == .carryForward, word == "nan" else {
                    throw .nonFiniteValue(path: path, line: line.number,
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
                throw unexpected(line, at: range.lowerBound,
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
    func makeSet(name: String, source: String) throws(DatasetError) -> TimeSeriesClassificationSet {
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
            throw .tooLarge(path: path, what: "values to pad \(shape) to \(maxLength) steps",
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
        return TimeSeriesClassificationSet(
            source: source, name: name, classNames: classNames, dimensions: dimensions,
            count: count, maxLength: maxLength, values: values, lengths: caseLengths.map { Int32($0) }, labels: labels)
    }
}
