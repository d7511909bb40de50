import Testing

/// A float buffer with sentinel guards on both sides, to catch a kernel that
/// reads or writes outside the rows it was given.
///
/// The sentinel is a NaN with a payload: a stray write changes its bits, and a
/// stray read poisons whatever the kernel computes from it.
final class GuardedBuffer {
    static let guardCount = 24
    static let sentinel = Float(bitPattern: 0x7FC0_5EED)

    let count: Int
    private let storage: UnsafeMutablePointer<Float>

    /// A buffer of `count` floats, all set to `fill`.
    init(count: Int, fill: Float = GuardedBuffer.sentinel) {
        self.count = count
        storage = .allocate(capacity: count + 2 * Self.guardCount)
        storage.initialize(repeating: Self.sentinel, count: count + 2 * Self.guardCount)
        pointer.update(repeating: fill, count: count)
    }

    convenience init(_ values: [Float]) {
        self.init(count: values.count)
        pointer.update(from: values, count: values.count)
    }

    deinit { storage.deallocate() }

    /// The first of the `count` floats between the guards.
    var pointer: UnsafeMutablePointer<Float> { storage + Self.guardCount }

    subscript(index: Int) -> Float {
        get { pointer[index] }
        set { pointer[index] = newValue }
    }

    /// The `count` floats between the guards.
    var values: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }

    /// Whether both guards still hold the sentinel, bit for bit.
    var guardsIntact: Bool {
        let guards = (0..<Self.guardCount).flatMap { [storage[$0], pointer[count + $0]] }
        return guards.allSatisfy { $0.bitPattern == Self.sentinel.bitPattern }
    }
}

/// What one float of a buffer should hold after a kernel ran.
enum Expected {
    /// Exactly this value (a copy, a zero, or a float left untouched): equal
    /// bits, or equal as floats so that +0 and -0 agree.
    case exact(Float)
    /// Close to a double-precision reference value (see `isClose`).
    case close(Double)
    /// Not part of the kernel's contract.
    case any
}

/// The suite's tolerance against double-precision references: relative
/// 1e-5, with an absolute floor of 1e-6 for values near zero.
///
/// The vector exp, sigmoid and tanh are accurate to a few ulp (2^-23 ≈ 1.2e-7
/// relative) and the kernels do a handful of float operations on them, so
/// their results sit within ~1e-6 of the exact values; 1e-5 leaves margin
/// without letting a wrong formula through. The floor covers cancellation
/// (e.g. `1 - h²` for `h` near 1, or `dc` summing two opposite terms), where a
/// float result is only accurate relative to the size of its terms, all O(1) here.
func isClose(_ actual: Float, _ expected: Double, relative: Double = 1e-5, absolute: Double = 1e-6) -> Bool {
    abs(Double(actual) - expected) <= relative * abs(expected) + absolute
}

/// Checks every float of `buffer` against `expected` and its guards against
/// the sentinel, reporting the first few mismatches by index.
func expectBuffer(
    _ buffer: GuardedBuffer, _ expected: [Expected], _ name: String, absolute: Double = 1e-6,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    precondition(expected.count == buffer.count, "expectation for \(name) has the wrong size")
    var mismatches: [String] = []
    for (index, expectation) in expected.enumerated() {
        let actual = buffer[index]
        let matches: Bool
        switch expectation {
        case .exact(let value): matches = actual.bitPattern == value.bitPattern || actual == value
        case .close(let value): matches = isClose(actual, value, absolute: absolute)
        case .any: matches = true
        }
        if !matches { mismatches.append("[\(index)] \(actual), expected \(expectation)") }
    }
    #expect(
        mismatches.isEmpty,
        "\(name): \(mismatches.count) of \(buffer.count) wrong; \(mismatches.prefix(4).joined(separator: "; "))",
        sourceLocation: sourceLocation)
    #expect(buffer.guardsIntact, "\(name): written outside its bounds", sourceLocation: sourceLocation)
}

/// Expectations that `buffer` is left exactly as it is now.
func untouched(_ buffer: GuardedBuffer) -> [Expected] { buffer.values.map(Expected.exact) }
