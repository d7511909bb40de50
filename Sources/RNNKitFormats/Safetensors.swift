import Foundation

/// A safetensors file held in memory: named tensors plus string metadata.
///
/// The format (used by PyTorch and Hugging Face) is an 8-byte little-endian
/// header length *N*, *N* bytes of JSON header mapping each tensor name to
/// `{"dtype", "shape", "data_offsets"}` (plus an optional `"__metadata__"`
/// object of strings), then the tensors' bytes, little-endian and row-major.
///
/// Reading validates everything PyTorch's reader does and never traps on any
/// input: a header length larger than the file is refused before anything is
/// allocated, shapes whose size overflows are refused, and the tensors' byte
/// ranges must cover the data section exactly, without holes or overlaps.
///
/// ```swift
/// var file = SafetensorsFile(metadata: ["format": "pt"])
/// file.tensors["weight_ih_l0"] = Tensor(floats: weights, shape: [4 * hidden, input])
/// try file.write(to: url)
///
/// let loaded = try SafetensorsFile(contentsOf: url)
/// let w = try loaded.floats("weight_ih_l0", shape: [4 * hidden, input])
/// ```
public struct SafetensorsFile: Sendable {
    /// The largest header accepted, in bytes: the limit of the reference
    /// implementation (100 MB), which no real file comes near.
    public static let maxHeaderLength = 100_000_000

    /// The header's `__metadata__`: free-form string pairs.
    public var metadata: [String: String]
    /// The tensors, by name.
    public var tensors: [String: Tensor]
    /// The file's path, or a name for bytes that came from memory; errors
    /// name the file by it.
    public var source: String

    /// Creates a file in memory.
    ///
    /// - Parameters:
    ///   - metadata: String pairs stored under `__metadata__`.
    ///   - tensors: The tensors, by name. `__metadata__` is not a valid name.
    ///   - source: What errors call this file.
    public init(metadata: [String: String] = [:], tensors: [String: Tensor] = [:], source: String = "<memory>") {
        self.metadata = metadata
        self.tensors = tensors
        self.source = source
    }

    /// Reads and validates the safetensors file at `url`.
    ///
    /// The 8-byte header length is checked against the file size before the
    /// rest of the file is read, so a corrupt length cannot cause a large
    /// allocation; the file size bounds all memory used.
    ///
    /// - Throws: ``SafetensorsError`` saying what is wrong, in which tensor.
    public init(contentsOf url: URL) throws {
        let path = url.path
        let file = try _ReadOnlyFile(path: path)
        let size = try file.size()
        guard size >= 8 else { throw SafetensorsError.fileTooShort(source: path, size: size) }
        let headerLength = SafetensorsFile.headerLength(try file.read(count: 8, at: 0))
        try SafetensorsFile.checkHeaderLength(headerLength, available: size - 8, source: path)
        try self.init(bytes: try file.read(count: size, at: 0), source: path)
    }

    /// Parses and validates a safetensors file held in memory.
    ///
    /// - Parameters:
    ///   - bytes: The whole file.
    ///   - source: What errors call the file, typically its path.
    /// - Throws: ``SafetensorsError`` saying what is wrong, in which tensor.
    /// - Complexity: O(*n*) in the size of the file, plus sorting the tensors.
    public init(bytes: [UInt8], source: String) throws {
        guard bytes.count >= 8 else { throw SafetensorsError.fileTooShort(source: source, size: bytes.count) }
        let headerLength = SafetensorsFile.headerLength(bytes[0..<8])
        try SafetensorsFile.checkHeaderLength(headerLength, available: bytes.count - 8, source: source)
        let dataStart = 8 + Int(headerLength)  // cannot overflow: bounded by bytes.count
        let entries = try SafetensorsFile.parseHeader(Array(bytes[8..<dataStart]), source: source)

        let dataSize = bytes.count - dataStart
        var metadata: [String: String] = [:]
        var layout: [_TensorLayout] = []
        for (name, value) in entries.members {
            if name == "__metadata__" {
                metadata = try SafetensorsFile.parseMetadata(value, source: source)
            } else {
                layout.append(try _TensorLayout(name: name, entry: value, dataSize: dataSize, source: source))
            }
        }
        try _TensorLayout.checkCoverage(layout, dataSize: dataSize, source: source)

        var tensors: [String: Tensor] = [:]
        tensors.reserveCapacity(layout.count)
        for tensor in layout {
            let bytes = Array(bytes[(dataStart + tensor.range.lowerBound)..<(dataStart + tensor.range.upperBound)])
            tensors[tensor.name] = Tensor(unchecked: tensor.dtype, shape: tensor.shape, bytes: bytes)
        }
        self.init(metadata: metadata, tensors: tensors, source: source)
    }

    // MARK: Looking up tensors

    /// The tensor called `name`, checked against an expected type and shape.
    ///
    /// - Parameters:
    ///   - name: The tensor's name, e.g. `"weight_ih_l0"`.
    ///   - dtype: The element type it must have, or `nil` for any.
    ///   - shape: The shape it must have, or `nil` for any.
    /// - Throws: ``SafetensorsError/missingTensor(source:tensor:)``,
    ///   ``SafetensorsError/wrongDType(source:tensor:expected:actual:)`` or
    ///   ``SafetensorsError/wrongShape(source:tensor:expected:actual:)``.
    public func tensor(_ name: String, dtype: TensorDType? = nil, shape: [Int]? = nil) throws -> Tensor {
        guard let tensor = tensors[name] else {
            throw SafetensorsError.missingTensor(source: source, tensor: name)
        }
        if let dtype, tensor.dtype != dtype {
            throw SafetensorsError.wrongDType(source: source, tensor: name, expected: [dtype], actual: tensor.dtype)
        }
        if let shape, tensor.shape != shape {
            throw SafetensorsError.wrongShape(source: source, tensor: name, expected: shape, actual: tensor.shape)
        }
        return tensor
    }

    /// The elements of the floating-point tensor `name` as `Float`, checked
    /// against an expected shape. `F64`, `F16` and `BF16` are converted.
    ///
    /// - Throws: ``SafetensorsError`` if the tensor is missing, not
    ///   floating-point, or has another shape.
    public func floats(_ name: String, shape: [Int]? = nil) throws -> [Float] {
        let tensor = try self.tensor(name, shape: shape)
        guard tensor.dtype.isFloatingPoint else {
            throw SafetensorsError.wrongDType(
                source: source, tensor: name, expected: TensorDType.allCases.filter(\.isFloatingPoint),
                actual: tensor.dtype)
        }
        return try tensor.floats()
    }

    /// The elements of the integer tensor `name` as `Int`, checked against an
    /// expected shape.
    ///
    /// - Throws: ``SafetensorsError`` if the tensor is missing, not of an
    ///   integer type, or has another shape.
    public func integers(_ name: String, shape: [Int]? = nil) throws -> [Int] {
        let tensor = try self.tensor(name, shape: shape)
        guard tensor.dtype.isInteger else {
            throw SafetensorsError.wrongDType(
                source: source, tensor: name, expected: TensorDType.allCases.filter(\.isInteger),
                actual: tensor.dtype)
        }
        return try tensor.integers()
    }
}

// MARK: - Parsing

extension SafetensorsFile {
    package static func headerLength(_ prefix: some Collection<UInt8>) -> UInt64 {
        prefix.reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }

    package static func checkHeaderLength(_ headerLength: UInt64, available: Int, source: String) throws {
        guard headerLength <= UInt64(available) else {
            throw SafetensorsError.headerLengthExceedsFile(
                source: source, headerLength: headerLength, available: available)
        }
        guard headerLength <= UInt64(maxHeaderLength) else {
            throw SafetensorsError.headerTooLarge(source: source, headerLength: headerLength, limit: maxHeaderLength)
        }
    }

    package static func parseHeader(_ header: [UInt8], source: String) throws -> JSONObject {
        let value: JSONValue
        do {
            // The header is three levels deep; 64 leaves room for anything sane.
            value = try JSONValue(parsing: header, maxDepth: 64)
        } catch let error as JSONParseError {
            if case .invalidUTF8(let offset) = error {
                throw SafetensorsError.headerNotUTF8(source: source, offset: offset)
            }
            throw SafetensorsError.headerNotJSON(source: source, error)
        }
        guard case .object(let entries) = value else {
            throw SafetensorsError.headerNotObject(source: source, found: _excerpt(value))
        }
        return entries
    }

    package static func parseMetadata(_ value: JSONValue, source: String) throws -> [String: String] {
        switch value {
        case .null:
            return [:]
        case .object(let object):
            var metadata: [String: String] = [:]
            for (key, value) in object.members {
                guard case .string(let string) = value else {
                    throw SafetensorsError.metadataValueNotString(source: source, key: key, found: _excerpt(value))
                }
                metadata[key] = string
            }
            return metadata
        default:
            throw SafetensorsError.metadataNotObject(source: source, found: _excerpt(value))
        }
    }
}

/// One header entry, validated on its own: a known dtype, a shape whose byte
/// size fits in `Int`, and a byte range inside the data section of that size.
package struct _TensorLayout {
    package var name: String
    package var dtype: TensorDType
    package var shape: [Int]
    package var range: Range<Int>

    package init(name: String, entry: JSONValue, dataSize: Int, source: String) throws {
        guard case .object(let fields) = entry else {
            throw SafetensorsError.entryNotObject(source: source, tensor: name, found: _excerpt(entry))
        }
        func field(_ key: String) throws -> JSONValue {
            guard let value = fields[key] else {
                throw SafetensorsError.missingField(source: source, tensor: name, field: key)
            }
            return value
        }
        func invalid(_ field: String, _ expected: String, _ found: JSONValue) -> SafetensorsError {
            .invalidField(source: source, tensor: name, field: field, expected: expected, found: _excerpt(found))
        }

        let dtypeValue = try field("dtype")
        guard let dtypeName = dtypeValue.stringValue else {
            throw invalid("dtype", "a string such as \"F32\"", dtypeValue)
        }
        guard let dtype = TensorDType(rawValue: dtypeName) else {
            throw SafetensorsError.unknownDType(source: source, tensor: name, dtype: dtypeName)
        }

        let shapeValue = try field("shape")
        guard let dimensions = shapeValue.arrayValue else {
            throw invalid("shape", "an array of non-negative integers", shapeValue)
        }
        var shape: [Int] = []
        for (axis, dimension) in dimensions.enumerated() {
            guard let size = dimension.integerValue, size >= 0 else {
                throw invalid("shape[\(axis)]", "a non-negative integer", dimension)
            }
            shape.append(size)
        }
        let byteCount: Int
        do {
            byteCount = try Tensor.byteCount(of: dtype, shape: shape)
        } catch {
            throw SafetensorsError.elementCountOverflow(source: source, tensor: name, shape: shape, dtype: dtype)
        }

        let offsetsValue = try field("data_offsets")
        guard let offsets = offsetsValue.arrayValue, offsets.count == 2,
            let begin = offsets[0].integerValue, let end = offsets[1].integerValue, begin >= 0, end >= 0
        else {
            throw invalid("data_offsets", "two non-negative integers [begin, end]", offsetsValue)
        }
        guard begin <= end else {
            throw SafetensorsError.offsetsReversed(source: source, tensor: name, begin: begin, end: end)
        }
        guard end <= dataSize else {
            throw SafetensorsError.offsetsBeyondData(source: source, tensor: name, end: end, dataSize: dataSize)
        }
        guard end - begin == byteCount else {
            throw SafetensorsError.sizeMismatch(
                source: source, tensor: name, dtype: dtype, shape: shape, expectedBytes: byteCount,
                actualBytes: end - begin)
        }
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.range = begin..<end
    }

    /// Checks that the tensors tile `0..<dataSize` exactly, as PyTorch's and
    /// Hugging Face's readers require.
    package static func checkCoverage(_ layout: [_TensorLayout], dataSize: Int, source: String) throws {
        let ordered = layout.sorted { a, b in
            if a.range.lowerBound != b.range.lowerBound { return a.range.lowerBound < b.range.lowerBound }
            if a.range.upperBound != b.range.upperBound { return a.range.upperBound < b.range.upperBound }
            return a.name.utf8.lexicographicallyPrecedes(b.name.utf8)
        }
        var covered = 0
        var previous: _TensorLayout?
        for tensor in ordered {
            if tensor.range.lowerBound < covered, let previous {
                throw SafetensorsError.overlappingTensors(
                    source: source, tensor: tensor.name, range: tensor.range, other: previous.name,
                    otherRange: previous.range)
            }
            if tensor.range.lowerBound > covered {
                throw SafetensorsError.uncoveredData(source: source, range: covered..<tensor.range.lowerBound)
            }
            covered = tensor.range.upperBound
            previous = tensor
        }
        if covered != dataSize {
            throw SafetensorsError.uncoveredData(source: source, range: covered..<dataSize)
        }
    }
}

/// A JSON value as short text for an error message.
package func _excerpt(_ value: JSONValue) -> String {
    let text = value.serialized()
    let limit = 60
    return text.count <= limit ? text : String(text.prefix(limit)) + "…"
}
