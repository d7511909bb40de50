/// The element types a safetensors file can hold, spelled as in its header.
public enum TensorDType: String, Sendable, CaseIterable {
    case float32 = "F32"
    case float64 = "F64"
    case float16 = "F16"
    case bfloat16 = "BF16"
    case int64 = "I64"
    case int32 = "I32"
    case int16 = "I16"
    case int8 = "I8"
    case uint8 = "U8"
    case bool = "BOOL"

    /// The size of one element in bytes.
    public var byteSize: Int {
        switch self {
        case .float64, .int64: 8
        case .float32, .int32: 4
        case .float16, .bfloat16, .int16: 2
        case .int8, .uint8, .bool: 1
        }
    }

    /// Whether ``Tensor/floats()`` can read this type.
    public var isFloatingPoint: Bool {
        switch self {
        case .float32, .float64, .float16, .bfloat16: true
        default: false
        }
    }

    /// Whether ``Tensor/integers()`` can read this type.
    public var isInteger: Bool {
        switch self {
        case .int64, .int32, .int16, .int8, .uint8: true
        default: false
        }
    }
}

/// Why a tensor could not be made or read.
public enum TensorError: Error, CustomStringConvertible, Equatable {
    /// A dimension is negative.
    case negativeDimension(shape: [Int])
    /// The product of the dimensions, times the element size, overflows `Int`.
    case elementCountOverflow(shape: [Int], dtype: TensorDType)
    /// The byte count does not match the shape and element type.
    case byteCountMismatch(dtype: TensorDType, shape: [Int], expected: Int, actual: Int)
    /// ``Tensor/floats()`` was called on a tensor that does not hold floating-point values.
    case notFloatingPoint(TensorDType)
    /// ``Tensor/integers()`` was called on a tensor that does not hold integers.
    case notInteger(TensorDType)

    public var description: String {
        switch self {
        case .negativeDimension(let shape):
            "shape \(shape) has a negative dimension"
        case .elementCountOverflow(let shape, let dtype):
            "shape \(shape) of \(dtype.rawValue) is too large: its size in bytes overflows a 64-bit integer"
        case .byteCountMismatch(let dtype, let shape, let expected, let actual):
            "\(dtype.rawValue) \(shape) needs \(expected) bytes, but \(actual) were given"
        case .notFloatingPoint(let dtype):
            "tensor holds \(dtype.rawValue), expected a floating-point type (F32, F64, F16 or BF16)"
        case .notInteger(let dtype):
            "tensor holds \(dtype.rawValue), expected an integer type (I64, I32, I16, I8 or U8)"
        }
    }
}

/// One tensor held in memory: an element type, a shape, and the elements as
/// little-endian bytes in row-major order.
///
/// A tensor always satisfies `bytes.count == elementCount * dtype.byteSize`.
///
/// ```swift
/// let bias = Tensor(floats: [0.5, -1, 2, 0], shape: [4])
/// try bias.floats()   // [0.5, -1.0, 2.0, 0.0]
/// ```
public struct Tensor: Sendable, Equatable {
    /// The element type.
    public let dtype: TensorDType
    /// The dimensions, outermost first. A scalar has shape `[]`.
    public let shape: [Int]
    /// The elements, little-endian, row-major, tightly packed.
    public let bytes: [UInt8]

    /// Creates a tensor from raw little-endian bytes.
    ///
    /// - Parameters:
    ///   - dtype: The element type.
    ///   - shape: The dimensions; each must be non-negative.
    ///   - bytes: Exactly `shape.product * dtype.byteSize` bytes.
    /// - Throws: ``TensorError`` if the shape is invalid or the byte count is wrong.
    public init(dtype: TensorDType, shape: [Int], bytes: [UInt8]) throws {
        let expected = try Tensor.byteCount(of: dtype, shape: shape)
        guard bytes.count == expected else {
            throw TensorError.byteCountMismatch(dtype: dtype, shape: shape, expected: expected, actual: bytes.count)
        }
        self.init(unchecked: dtype, shape: shape, bytes: bytes)
    }

    /// Creates a `F32` tensor.
    ///
    /// - Precondition: `shape` has no negative dimension and `floats.count`
    ///   is its product.
    public init(floats: [Float], shape: [Int]) {
        self.init(elements: floats, dtype: .float32, shape: shape) { $0.bitPattern }
    }

    /// Creates an `F64` tensor.
    ///
    /// - Precondition: `doubles.count` is the product of `shape`.
    public init(doubles: [Double], shape: [Int]) {
        self.init(elements: doubles, dtype: .float64, shape: shape) { $0.bitPattern }
    }

    /// Creates an `I64` tensor.
    ///
    /// - Precondition: `int64.count` is the product of `shape`.
    public init(int64: [Int64], shape: [Int]) {
        self.init(elements: int64, dtype: .int64, shape: shape) { $0 }
    }

    /// Creates an `I32` tensor.
    ///
    /// - Precondition: `int32.count` is the product of `shape`.
    public init(int32: [Int32], shape: [Int]) {
        self.init(elements: int32, dtype: .int32, shape: shape) { $0 }
    }

    package init(unchecked dtype: TensorDType, shape: [Int], bytes: [UInt8]) {
        self.dtype = dtype
        self.shape = shape
        self.bytes = bytes
    }

    private init<Element, Bits: FixedWidthInteger>(
        elements: [Element], dtype: TensorDType, shape: [Int], bits: (Element) -> Bits
    ) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: shape \(shape) has a negative dimension")
        precondition(
            _checkedElementCount(shape) == elements.count,
            "Tensor: \(elements.count) elements do not fill shape \(shape) of \(dtype.rawValue)")
        var bytes = [UInt8]()
        bytes.reserveCapacity(elements.count * MemoryLayout<Bits>.size)
        for element in elements {
            withUnsafeBytes(of: bits(element).littleEndian) { bytes.append(contentsOf: $0) }
        }
        self.init(unchecked: dtype, shape: shape, bytes: bytes)
    }

    /// The number of elements: the product of the dimensions (1 for a scalar).
    public var elementCount: Int { bytes.count / dtype.byteSize }

    /// The elements as `Float`, converting `F64`, `F16` and `BF16`.
    ///
    /// `F64` values beyond `Float`'s range become infinities.
    /// - Throws: ``TensorError/notFloatingPoint(_:)`` for any other type.
    /// - Complexity: O(*n*) in the number of elements.
    public func floats() throws -> [Float] {
        switch dtype {
        case .float32: elements(UInt32.self) { Float(bitPattern: $0) }
        case .float64: elements(UInt64.self) { Float(Double(bitPattern: $0)) }
        case .float16: elements(UInt16.self, _floatFromHalf)
        case .bfloat16: elements(UInt16.self) { Float(bitPattern: UInt32($0) << 16) }
        default: throw TensorError.notFloatingPoint(dtype)
        }
    }

    /// The elements as `Int`, converting from any integer type.
    ///
    /// - Throws: ``TensorError/notInteger(_:)`` for floating-point and `BOOL` tensors.
    /// - Complexity: O(*n*) in the number of elements.
    public func integers() throws -> [Int] {
        switch dtype {
        // Int is 64 bits on the platforms RNNKit supports, so this is exact.
        case .int64: elements(UInt64.self) { Int(truncatingIfNeeded: Int64(bitPattern: $0)) }
        case .int32: elements(UInt32.self) { Int(Int32(bitPattern: $0)) }
        case .int16: elements(UInt16.self) { Int(Int16(bitPattern: $0)) }
        case .int8: bytes.map { Int(Int8(bitPattern: $0)) }
        case .uint8: bytes.map { Int($0) }
        default: throw TensorError.notInteger(dtype)
        }
    }

    /// Decodes each little-endian `Bits`-sized element with `convert`.
    private func elements<Bits: FixedWidthInteger, Result>(
        _: Bits.Type, _ convert: (Bits) -> Result
    ) -> [Result] {
        let count = bytes.count / MemoryLayout<Bits>.size
        return bytes.withUnsafeBytes { raw in
            (0..<count).map { index in
                convert(
                    Bits(
                        littleEndian: raw.loadUnaligned(fromByteOffset: index * MemoryLayout<Bits>.size, as: Bits.self))
                )
            }
        }
    }

    /// The size in bytes of a tensor of `dtype` and `shape`.
    package static func byteCount(of dtype: TensorDType, shape: [Int]) throws -> Int {
        guard shape.allSatisfy({ $0 >= 0 }) else { throw TensorError.negativeDimension(shape: shape) }
        guard let count = _checkedElementCount(shape) else {
            throw TensorError.elementCountOverflow(shape: shape, dtype: dtype)
        }
        let (size, overflow) = count.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow else { throw TensorError.elementCountOverflow(shape: shape, dtype: dtype) }
        return size
    }
}

/// `a · b · c`, or nil past `Int.max`: for sizes that callers and files
/// claim, which must not trap before they are refused. Fixed arity, so that
/// no array is allocated (batches are checked on every training step).
package func _checkedProduct(_ a: Int, _ b: Int, _ c: Int = 1) -> Int? {
    let (ab, first) = a.multipliedReportingOverflow(by: b)
    let (abc, second) = ab.multipliedReportingOverflow(by: c)
    return first || second ? nil : abc
}

/// The product of `shape`, or `nil` if it overflows `Int`.
package func _checkedElementCount(_ shape: [Int]) -> Int? {
    var count = 1
    for dimension in shape {
        let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
        if overflow { return nil }
        count = product
    }
    return count
}

/// Converts IEEE 754 binary16 bits to `Float` (exactly: every half is a float).
package func _floatFromHalf(_ bits: UInt16) -> Float {
    let sign: UInt32 = UInt32(bits & 0x8000) << 16
    let exponent = UInt32(bits >> 10) & 0x1F
    let mantissa = UInt32(bits & 0x03FF)
    switch exponent {
    case 0:
        // Zero or subnormal: mantissa × 2⁻²⁴.
        let magnitude = Float(mantissa) * 0x1p-24
        return sign == 0 ? magnitude : -magnitude
    case 0x1F:
        // Infinity or NaN, keeping the NaN payload.
        return Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13)
    default:
        // Rebias the exponent from 15 to 127.
        return Float(bitPattern: sign | (exponent + 112) << 23 | mantissa << 13)
    }
}
