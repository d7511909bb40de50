#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Why a safetensors file could not be read, validated, queried or written.
///
/// Every case names the file (`source`: its path, or a caller-chosen name for
/// bytes in memory) and, where one is involved, the tensor. Byte offsets in
/// the data section are relative to the first byte after the header, as the
/// header's `data_offsets` are.
public enum SafetensorsError: Error, CustomStringConvertible, Equatable {
    // MARK: Framing

    /// The file is shorter than the 8-byte header length prefix.
    case fileTooShort(source: String, size: Int)
    /// The header length prefix claims more bytes than the file has after it.
    case headerLengthExceedsFile(source: String, headerLength: UInt64, available: Int)
    /// The header length is beyond ``SafetensorsFile/maxHeaderLength``.
    case headerTooLarge(source: String, headerLength: UInt64, limit: Int)

    // MARK: Header

    /// The header is not valid UTF-8; `offset` is a byte offset in the header.
    case headerNotUTF8(source: String, offset: Int)
    /// The header is not valid JSON; offsets in the parse error count from the
    /// start of the header.
    case headerNotJSON(source: String, JSONParseError)
    /// The header is JSON but not an object; `found` is the kind of value.
    case headerNotObject(source: String, found: String)
    /// A tensor's entry is not an object.
    case entryNotObject(source: String, tensor: String, found: String)
    /// A tensor's entry lacks `dtype`, `shape` or `data_offsets`.
    case missingField(source: String, tensor: String, field: String)
    /// A field of a tensor's entry has the wrong kind of value; `found` is the
    /// offending JSON (shortened if long).
    case invalidField(source: String, tensor: String, field: String, expected: String, found: String)
    /// A dtype this library does not know.
    case unknownDType(source: String, tensor: String, dtype: String)
    /// The shape's element count times the element size overflows a 64-bit integer.
    case elementCountOverflow(source: String, tensor: String, shape: [Int], dtype: TensorDType)
    /// `data_offsets` has `begin > end`.
    case offsetsReversed(source: String, tensor: String, begin: Int, end: Int)
    /// `data_offsets` ends beyond the data section.
    case offsetsBeyondData(source: String, tensor: String, end: Int, dataSize: Int)
    /// `data_offsets` spans a different number of bytes than dtype and shape need.
    case sizeMismatch(
        source: String, tensor: String, dtype: TensorDType, shape: [Int], expectedBytes: Int, actualBytes: Int)
    /// Two tensors' byte ranges overlap.
    case overlappingTensors(source: String, tensor: String, range: Range<Int>, other: String, otherRange: Range<Int>)
    /// Bytes of the data section that no tensor covers (a hole, or trailing bytes).
    case uncoveredData(source: String, range: Range<Int>)
    /// `__metadata__` is not an object.
    case metadataNotObject(source: String, found: String)
    /// A `__metadata__` value is not a string.
    case metadataValueNotString(source: String, key: String, found: String)

    // MARK: Queries

    /// No tensor of this name.
    case missingTensor(source: String, tensor: String)
    /// The tensor has another shape than the caller expected.
    case wrongShape(source: String, tensor: String, expected: [Int], actual: [Int])
    /// The tensor has another element type than the caller expected.
    case wrongDType(source: String, tensor: String, expected: [TensorDType], actual: TensorDType)

    // MARK: Writing and I/O

    /// `__metadata__` cannot be a tensor name: the header reserves it.
    case reservedTensorName(source: String, tensor: String)
    /// A system call failed; `operation` says which, `code` is its `errno`.
    case io(path: String, operation: String, code: Int32)

    public var description: String {
        switch self {
        case .fileTooShort(let source, let size):
            return
                "\(source): file is \(size) bytes, too short for a safetensors file (at least 8 bytes of header length)"
        case .headerLengthExceedsFile(let source, let headerLength, let available):
            return
                "\(source): header length is \(headerLength) bytes, but only \(available) bytes follow the length "
                + "prefix"
        case .headerTooLarge(let source, let headerLength, let limit):
            return "\(source): header length is \(headerLength) bytes, more than the limit of \(limit)"
        case .headerNotUTF8(let source, let offset):
            return "\(source): header is not valid UTF-8 at header byte \(offset)"
        case .headerNotJSON(let source, let error):
            return "\(source): header is not valid JSON: \(error) (bytes counted from the start of the header)"
        case .headerNotObject(let source, let found):
            return "\(source): header is \(found), expected a JSON object mapping tensor names to entries"
        case .entryNotObject(let source, let tensor, let found):
            return
                "\(source): tensor '\(tensor)': entry is \(found), expected an object with dtype, shape and "
                + "data_offsets"
        case .missingField(let source, let tensor, let field):
            return "\(source): tensor '\(tensor)': entry has no \"\(field)\""
        case .invalidField(let source, let tensor, let field, let expected, let found):
            return "\(source): tensor '\(tensor)': \(field) is \(found), expected \(expected)"
        case .unknownDType(let source, let tensor, let dtype):
            let known = TensorDType.allCases.map(\.rawValue).joined(separator: ", ")
            return "\(source): tensor '\(tensor)': unknown dtype \"\(dtype)\", expected one of \(known)"
        case .elementCountOverflow(let source, let tensor, let shape, let dtype):
            return "\(source): tensor '\(tensor)': shape \(shape) of \(dtype.rawValue) is too large: "
                + "its size in bytes overflows a 64-bit integer"
        case .offsetsReversed(let source, let tensor, let begin, let end):
            return "\(source): tensor '\(tensor)': data_offsets [\(begin), \(end)] begin after they end"
        case .offsetsBeyondData(let source, let tensor, let end, let dataSize):
            return
                "\(source): tensor '\(tensor)': data_offsets end at byte \(end), beyond the \(dataSize)-byte data "
                + "section"
        case .sizeMismatch(let source, let tensor, let dtype, let shape, let expectedBytes, let actualBytes):
            return "\(source): tensor '\(tensor)': data_offsets span \(actualBytes) bytes, "
                + "but \(dtype.rawValue) \(shape) needs \(expectedBytes)"
        case .overlappingTensors(let source, let tensor, let range, let other, let otherRange):
            return
                "\(source): tensor '\(tensor)' (data bytes \(range)) overlaps tensor '\(other)' (data bytes "
                + "\(otherRange))"
        case .uncoveredData(let source, let range):
            return
                "\(source): data bytes \(range) belong to no tensor; tensors must cover the data section without holes"
        case .metadataNotObject(let source, let found):
            return "\(source): __metadata__ is \(found), expected an object of strings"
        case .metadataValueNotString(let source, let key, let found):
            return "\(source): __metadata__ value for \"\(key)\" is \(found), expected a string"
        case .missingTensor(let source, let tensor):
            return "\(source): no tensor named '\(tensor)'"
        case .wrongShape(let source, let tensor, let expected, let actual):
            return "\(source): tensor '\(tensor)' has shape \(actual), expected \(expected)"
        case .wrongDType(let source, let tensor, let expected, let actual):
            let allowed = expected.map(\.rawValue).joined(separator: " or ")
            return "\(source): tensor '\(tensor)' has dtype \(actual.rawValue), expected \(allowed)"
        case .reservedTensorName(let source, let tensor):
            return "\(source): '\(tensor)' cannot name a tensor: the header reserves it for metadata"
        case .io(let path, let operation, let code):
            return "\(path): \(operation) failed: \(String(cString: strerror(code))) (errno \(code))"
        }
    }
}
