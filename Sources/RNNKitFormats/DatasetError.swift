import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Why a data set could not be read or used: a data file (a UCR/UEA `.ts`
/// file, a forecasting CSV, a text corpus) that does not parse, tensors that
/// do not form a ``TensorDataset``, or a data set that cannot do what was asked.
///
/// Positions are 1-based: `line` counts the lines of the file (CR LF, LF and,
/// in CSV, a lone CR each end one), `column` counts Unicode scalars from the
/// start of that line. A leading byte-order mark is not counted. Byte offsets
/// (``notUTF8(path:byteOffset:)``) count from 0 at the first byte of the file.
///
/// Descriptions read like a compiler's:
///
/// ```
/// GunPoint_TRAIN.ts:22:57: expected a number, found 'abc'
/// ```
public enum DatasetError: Error, CustomStringConvertible, Equatable {
    // MARK: Reading

    /// A system call failed; `operation` says which, `code` is its `errno`
    /// (`ENOENT` for a file that does not exist).
    case io(path: String, operation: String, code: Int32)
    /// The file holds nothing, or nothing but whitespace and a byte-order mark.
    case emptyFile(path: String)
    /// The bytes are not UTF-8; `byteOffset` is where the first invalid sequence starts.
    case notUTF8(path: String, byteOffset: Int)

    // MARK: Syntax

    /// Something other than what the format allows at this position.
    /// `found` is the offending text, shortened if long, empty for the end of a line.
    case unexpected(path: String, line: Int, column: Int, expected: String, found: String)
    /// A number that is NaN, infinite, or beyond the range of `Float`.
    case nonFiniteValue(path: String, line: Int, column: Int, found: String)
    /// A missing value: `?` in a `.ts` file, `?` or an empty field in a CSV.
    case missingValue(path: String, line: Int, column: Int)

    // MARK: Structure

    /// A header the format requires (`@data`, `@classLabel`) is absent.
    case missingHeader(path: String, header: String)
    /// No column of the requested name in a CSV header row.
    case missingColumn(path: String, column: String, available: [String])
    /// A CSV row with another number of fields than the header row.
    case raggedRow(path: String, line: Int, expected: Int, found: Int)
    /// A `.ts` case with another number of dimensions than the header or the first case.
    case dimensionCount(path: String, line: Int, expected: Int, found: Int)
    /// A `.ts` case whose dimension `dimension` (1-based) breaks `@equalLength true` / `@seriesLength`.
    case seriesLength(path: String, line: Int, dimension: Int, expected: Int, found: Int)
    /// A class label that is not among the declared (or the training set's) classes.
    case unknownClassLabel(path: String, line: Int, column: Int, label: String, known: [String])
    /// Headers but no cases or rows.
    case noData(path: String)
    /// Text with fewer than two distinct characters: nothing to predict.
    case tooFewDistinctCharacters(path: String, found: Int)
    /// More of something than the loader allows: padded values beyond a
    /// multiple of the file's size (see ``TimeSeriesClassificationSet``),
    /// classes, columns or characters beyond the types' limits, or a count
    /// beyond `Int32`. `what` names the things counted.
    case tooLarge(path: String, what: String, count: Int, limit: Int)

    // MARK: Use

    /// Too few rows (time steps, characters) for one window of `needed`.
    case tooFewRows(source: String, rows: Int, needed: Int)
    /// A ``FeatureScaling`` fitted on another number of features than the data has.
    case featureCountMismatch(source: String, features: Int, scalingFeatures: Int)
    /// A character outside a ``TextCorpus``'s vocabulary; `offset` counts characters.
    case unknownCharacter(source: String, character: Character, offset: Int)
    /// An argument outside what the operation accepts.
    case invalidArgument(name: String, value: String, expected: String)

    // MARK: Tensor sets

    /// A required tensor (`inputs` or `targets`) is absent.
    case missingTensor(source: String, tensor: String)
    /// A tensor other than `inputs`, `targets` and `lengths` (a misspelling, usually).
    case unexpectedTensor(source: String, tensor: String)
    /// A tensor has an element type the data set cannot use.
    case wrongDType(source: String, tensor: String, expected: String, actual: TensorDType)
    /// A tensor has the wrong number of dimensions.
    case wrongRank(source: String, tensor: String, shape: [Int], expected: String)
    /// A dimension that must be at least 1 is zero or negative.
    case emptyDimension(source: String, tensor: String, shape: [Int])
    /// A tensor's size overflows `Int`.
    case sizeOverflow(source: String, tensor: String, shape: [Int])
    /// An array holds another number of elements than its shape needs.
    case elementCountMismatch(source: String, tensor: String, shape: [Int], expected: Int, actual: Int)
    /// A tensor's first dimension differs from the number of input sequences.
    case countMismatch(source: String, tensor: String, count: Int, expected: Int)
    /// A tensor's time dimension differs from that of `inputs`.
    case timeStepsMismatch(source: String, tensor: String, timeSteps: Int, expected: Int)
    /// `lengths[index]` is outside `1...timeSteps`.
    case lengthOutOfRange(source: String, index: Int, value: Int, timeSteps: Int)
    /// A NaN or infinity at `position` (`[n, t, i]` for inputs).
    case nonFiniteTensorValue(source: String, tensor: String, position: [Int], value: String)
    /// A negative class label at a valid (unpadded) position.
    case negativeLabel(source: String, tensor: String, position: [Int], value: Int)
    /// A class label that does not fit in `Int32`.
    case labelOutOfRange(source: String, tensor: String, position: [Int], value: Int)

    public var description: String {
        switch self {
        case .io(let path, let operation, let code):
            return "\(path): \(operation) failed: \(String(cString: strerror(code))) (errno \(code))"
        case .emptyFile(let path):
            return "\(path): the file is empty or holds only whitespace"
        case .notUTF8(let path, let byteOffset):
            return "\(path): not UTF-8: invalid byte sequence at byte offset \(byteOffset)"
        case .unexpected(let path, let line, let column, let expected, let found):
            return "\(path):\(line):\(column): expected \(expected), found \(found.isEmpty ? "nothing" : "'\(found)'")"
        case .nonFiniteValue(let path, let line, let column, let found):
            return "\(path):\(line):\(column): expected a finite 32-bit number, found '\(found)'"
        case .missingValue(let path, let line, let column):
            return "\(path):\(line):\(column): expected a number, found a missing value"
        case .missingHeader(let path, let header):
            return "\(path): no \(header) line; the format requires one before the data"
        case .missingColumn(let path, let column, let available):
            return "\(path): no column named '\(column)'; the header has \(Self.list(available))"
        case .raggedRow(let path, let line, let expected, let found):
            return "\(path):\(line): expected \(expected) fields, as in the header row, found \(found)"
        case .dimensionCount(let path, let line, let expected, let found):
            return "\(path):\(line): expected \(expected) dimension\(expected == 1 ? "" : "s"), found \(found)"
        case .seriesLength(let path, let line, let dimension, let expected, let found):
            return "\(path):\(line): dimension \(dimension) has \(found) values, expected \(expected): "
                + "the header declares equal lengths"
        case .unknownClassLabel(let path, let line, let column, let label, let known):
            return "\(path):\(line):\(column): unknown class label '\(label)', expected one of \(Self.list(known))"
        case .noData(let path):
            return "\(path): no data after the header"
        case .tooFewDistinctCharacters(let path, let found):
            return "\(path): the text has \(found) distinct character\(found == 1 ? "" : "s"); "
                + "a character model needs at least 2"
        case .tooLarge(let path, let what, let count, let limit):
            return "\(path): too many \(what): \(count), more than the limit of \(limit)"
        case .tooFewRows(let source, let rows, let needed):
            return "\(source): \(rows) rows are too few: one window needs \(needed)"
        case .featureCountMismatch(let source, let features, let scalingFeatures):
            return
                "\(source): the data has \(features) features per step, but the scaling was fitted on "
                + "\(scalingFeatures)"
        case .unknownCharacter(let source, let character, let offset):
            let escaped = String(character).unicodeScalars.map { $0.escaped(asASCII: false) }.joined()
            return "\(source): character '\(escaped)' at offset \(offset) is not in the vocabulary"
        case .invalidArgument(let name, let value, let expected):
            return "invalid \(name) \(value): expected \(expected)"
        case .missingTensor(let source, let tensor):
            return "\(source): no tensor named '\(tensor)'; a data set needs 'inputs' [N, T, I] and 'targets'"
        case .unexpectedTensor(let source, let tensor):
            return "\(source): unexpected tensor '\(tensor)'; a data set holds only 'inputs', 'targets' and 'lengths'"
        case .wrongDType(let source, let tensor, let expected, let actual):
            return "\(source): tensor '\(tensor)' has dtype \(actual.rawValue), expected \(expected)"
        case .wrongRank(let source, let tensor, let shape, let expected):
            return "\(source): tensor '\(tensor)' has shape \(shape), expected \(expected)"
        case .emptyDimension(let source, let tensor, let shape):
            return "\(source): tensor '\(tensor)' has shape \(shape); every dimension must be at least 1"
        case .sizeOverflow(let source, let tensor, let shape):
            return "\(source): tensor '\(tensor)' shape \(shape) is too large: its element count overflows"
        case .elementCountMismatch(let source, let tensor, let shape, let expected, let actual):
            return "\(source): '\(tensor)' has \(actual) values, but shape \(shape) needs \(expected)"
        case .countMismatch(let source, let tensor, let count, let expected):
            return "\(source): tensor '\(tensor)' has \(count) sequences, but 'inputs' has \(expected)"
        case .timeStepsMismatch(let source, let tensor, let timeSteps, let expected):
            return "\(source): tensor '\(tensor)' has \(timeSteps) time steps, but 'inputs' has \(expected)"
        case .lengthOutOfRange(let source, let index, let value, let timeSteps):
            return "\(source): lengths[\(index)] is \(value), expected a value in 1...\(timeSteps)"
        case .nonFiniteTensorValue(let source, let tensor, let position, let value):
            return "\(source): \(tensor)\(position) is \(value); values must be finite, padding included"
        case .negativeLabel(let source, let tensor, let position, let value):
            return "\(source): \(tensor)\(position) is \(value); class labels at valid steps must be non-negative"
        case .labelOutOfRange(let source, let tensor, let position, let value):
            return "\(source): \(tensor)\(position) is \(value), which does not fit in a 32-bit label"
        }
    }

    /// `'a', 'b', 'c'`, shortened after 20 items.
    private static func list(_ items: [String]) -> String {
        let shown = items.prefix(20).map { "'\($0)'" }.joined(separator: ", ")
        return items.count > 20 ? shown + ", … (\(items.count) in all)" : shown
    }
}
