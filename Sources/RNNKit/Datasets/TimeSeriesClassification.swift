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
            throw .invalidArgument(
                name: "classNames", value: "naming '\(repeated)' twice", expected: "distinct class names")
        }
        let file = try TimeSeriesFile(
            bytes: bytes, path: source, classNames: classNames,
            carriesMissingValuesForward: missingValues == .carryForward,
            maxClasses: Self.maxClasses)
        let fallbackName = URL(fileURLWithPath: source).deletingPathExtension().lastPathComponent
        self.init(
            source: source, name: file.problemName ?? fallbackName, classNames: file.classNames,
            dimensions: file.dimensions, count: file.count, maxLength: file.maxLength, values: file.values,
            lengths: file.lengths, labels: file.labels)
    }

    /// The memberwise initializer, for the parsed file and for scaled copies.
    private init(
        source: String, name: String, classNames: [String], dimensions: Int, count: Int,
        maxLength: Int, values: [Float], lengths: [Int32], labels: [Int32]
    ) {
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
