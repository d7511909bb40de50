import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

// The machinery the data file readers share: reading a file whole, and its
// bytes as checked UTF-8 text with line and column positions.

/// Reads a whole file; the only allocation is the file's own size.
package func _readDataFile(_ url: URL) throws(DatasetError) -> [UInt8] {
    let path = url.path
    do {
        let file = try _ReadOnlyFile(path: path)
        return try file.read(count: try file.size(), at: 0)
    } catch let SafetensorsError.io(path, operation, code) {
        throw .io(path: path, operation: operation, code: code)
    } catch {
        throw .io(path: path, operation: "read", code: EIO)
    }
}

/// The bytes of a data file checked to be UTF-8, with the leading byte-order
/// mark skipped, and the means to turn an offset into a line and column.
package struct _TextBytes {
    package let path: String
    package let bytes: [UInt8]
    /// The first byte after the byte-order mark, if any.
    package let start: Int

    /// Checks `bytes` is UTF-8 and holds more than whitespace.
    package init(_ bytes: [UInt8], path: String) throws(DatasetError) {
        if let offset = _firstInvalidUTF8Offset(in: bytes) { throw .notUTF8(path: path, byteOffset: offset) }
        self.path = path
        self.bytes = bytes
        start = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        guard bytes[start...].contains(where: { !_isWhitespace($0) && $0 != 0x0A && $0 != 0x0D }) else {
            throw .emptyFile(path: path)
        }
    }

    /// The 1-based column of `offset` on the line that starts at `lineStart`, in Unicode scalars.
    package func column(of offset: Int, lineStart: Int) -> Int {
        var column = 1
        var index = lineStart
        while index < offset {
            if bytes[index] & 0xC0 != 0x80 { column += 1 }
            index += 1
        }
        return column
    }

    /// The text of `range` for an error message: at most `limit` scalars, then "…".
    package func excerpt(_ range: Range<Int>, limit: Int = 40) -> String {
        let head = range.lowerBound..<min(range.upperBound, range.lowerBound + 4 * limit)
        let scalars = String(decoding: bytes[head], as: UTF8.self).unicodeScalars
        if head.count == range.count, scalars.count <= limit { return String(scalars) }
        return String(String.UnicodeScalarView(scalars.prefix(limit))) + "…"
    }

    /// The character at `offset` (one scalar), for "found ..." messages.
    package func scalar(at offset: Int) -> String {
        var end = offset + 1
        while end < bytes.count, end - offset < 4, bytes[end] & 0xC0 == 0x80 { end += 1 }
        return excerpt(offset..<end, limit: 1)
    }

    /// `range` without leading and trailing spaces and tabs.
    package func trimmed(_ range: Range<Int>) -> Range<Int> {
        var lower = range.lowerBound
        var upper = range.upperBound
        while lower < upper, _isWhitespace(bytes[lower]) { lower += 1 }
        while upper > lower, _isWhitespace(bytes[upper - 1]) { upper -= 1 }
        return lower..<upper
    }

    /// The outcome of reading one number.
    package enum Number {
        case value(Float)
        /// `?`, or nothing at all (the caller decides whether empty is missing).
        case missing
        case notANumber
        case nonFinite
    }

    /// Parses `range` (already trimmed) as a `Float` in Swift's syntax
    /// (decimal or hexadecimal, optional sign and exponent).
    package func number(_ range: Range<Int>) -> Number {
        if range.isEmpty { return .missing }
        if range.count == 1, bytes[range.lowerBound] == UInt8(ascii: "?") { return .missing }
        // Longer than any float needs: refuse before building a string of it.
        guard range.count <= 512 else { return .notANumber }
        let text = String(decoding: bytes[range], as: UTF8.self)
        // Float(_:) also accepts "nan" and "inf"; they are not values here.
        guard let value = Float(text) else { return .notANumber }
        return value.isFinite ? .value(value) : .nonFinite
    }
}

/// Space or tab.
@inline(__always)
package func _isWhitespace(_ byte: UInt8) -> Bool {
    byte == 0x20 || byte == 0x09
}
